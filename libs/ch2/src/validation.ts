/**
 * Validation of CH-2 payloads at the NATS boundary (STYLE.md habit 7). Hand-written and allocation-light: it runs
 * on every request. A failure lists every bad field with its problem, for the `INVALID_REQUEST` answer.
 */
import type { Ch2Operation } from './subjects';
import type { Ch2Item, Ch2RequestMap } from './types';
import { MAX_MONEY } from './money';

export type Validation<T> = { ok: true; value: T } | { ok: false; details: string[] };

const MAX_ITEMS = 10000;
const MAX_OCTETS = 2 ** 40;
/** A rating group's name (a named price set of the tariff): letters, digits, ".", "_", "-" (at most 64). */
export const RATING_GROUP_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const SERVICE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SIP_RE = /^(sips?):([^@\s;?<>]+)@([^\s;?<>:/]+)(?::\d{1,5})?(?:;[^\s?<>]*)?(?:\?\S*)?$/i;
const TEL_RE = /^tel:(\+?[0-9][0-9().-]{0,31})(?:;\S*)?$/i;

/** The longest subscriber URI any interface accepts (CH-2, both admin APIs, deposits, SIP identities). */
export const MAX_SUBSCRIBER_LENGTH = 256;

export type SubscriberScheme = 'sip' | 'sips' | 'tel';
export type SubscriberCheck = { ok: true; value: string } | { ok: false; problem: string };
const ANY_SCHEME: readonly SubscriberScheme[] = ['sip', 'sips', 'tel'];

/**
 * Normalises a subscriber URI to `scheme:user@host` with a lower-case scheme and host (ch2-contract.md "Common
 * request fields"), or `tel:+digits`. Returns undefined when it is not a SIP, SIPS or tel URI, or is longer than
 * `MAX_SUBSCRIBER_LENGTH` (checked before any pattern runs).
 */
export function normalizeSubscriber(uri: string): string | undefined {
  if (uri.length > MAX_SUBSCRIBER_LENGTH) return undefined;
  const sip = SIP_RE.exec(uri);
  if (sip) return `${sip[1].toLowerCase()}:${sip[2]}@${sip[3].toLowerCase()}`;
  const tel = TEL_RE.exec(uri);
  if (tel) return `tel:${tel[1].replace(/[().-]/g, '')}`;
  return undefined;
}

/** A value for an error message: short values quoted, long ones by their length (a 10 KB input is not echoed). */
function shown(v: unknown): string {
  if (v === undefined || v === null) return 'nothing';
  if (typeof v !== 'string') return Array.isArray(v) || typeof v === 'object' ? `an ${Array.isArray(v) ? 'array' : 'object'}` : `a ${typeof v}`;
  return v.length > 64 ? `${v.length} characters` : JSON.stringify(v);
}

/**
 * THE subscriber check of the product — CH-2 payloads, the enabler's accounts API, the im-server's users and
 * deposit APIs and the SIP identity of a request all call it, so a URI is accepted by one interface exactly when
 * it is accepted by the others. `field` names the field in the problem; `schemes` narrows the accepted schemes (a
 * SIP user needs sip/sips); `domain` requires a user of that domain.
 */
export function checkSubscriber(
  field: string,
  raw: unknown,
  opts: { schemes?: readonly SubscriberScheme[]; domain?: string } = {},
): SubscriberCheck {
  const schemes = opts.schemes ?? ANY_SCHEME;
  // the problem's text is built only for a refusal: this check runs on every CH-2 request
  const refused = (): SubscriberCheck => {
    const want = `${schemes.map((x) => `${x}:`).join(', ').replace(/, ([^,]*)$/, ' or $1')} URI of at most ${MAX_SUBSCRIBER_LENGTH} characters`;
    return { ok: false, problem: `${field}: must be a ${want} (got ${shown(raw)})` };
  };
  if (typeof raw !== 'string' || raw.length > MAX_SUBSCRIBER_LENGTH) return refused();
  const value = normalizeSubscriber(raw);
  if (!value || !schemes.includes(value.slice(0, value.indexOf(':')) as SubscriberScheme)) return refused();
  if (opts.domain !== undefined && !value.endsWith(`@${opts.domain}`))
    return { ok: false, problem: `${field}: must be a user of ${opts.domain} (got ${shown(raw)})` };
  return { ok: true, value };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown, min: number, max: number): boolean {
  return typeof v === 'string' && v.length >= min && v.length <= max;
}

function int(v: unknown, min: number, max: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

function checkItems(v: unknown, field: string, bad: string[], required: boolean): void {
  if (v === undefined && !required) return;
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_ITEMS) {
    bad.push(`${field}: must be a non-empty array of at most ${MAX_ITEMS} {id, octets}`);
    return;
  }
  const seen = new Set<string>();
  for (let i = 0; i < v.length; i++) {
    const it = v[i] as Ch2Item;
    if (!isObject(it)) {
      bad.push(`${field}[${i}]: must be an object {id, octets}`);
      continue;
    }
    if (!str(it.id, 1, 128)) bad.push(`${field}[${i}].id: must be a string of 1–128 characters`);
    else if (seen.has(it.id)) bad.push(`${field}[${i}].id: duplicate id ${JSON.stringify(it.id)}`);
    else seen.add(it.id);
    if (!int(it.octets, 0, MAX_OCTETS)) bad.push(`${field}[${i}].octets: must be a non-negative integer`);
    if (it.ratingGroup !== undefined) checkRatingGroup(it.ratingGroup, `${field}[${i}].ratingGroup`, bad);
  }
}

function checkRatingGroup(v: unknown, field: string, bad: string[]): void {
  if (typeof v !== 'string' || !RATING_GROUP_RE.test(v)) bad.push(`${field}: must be a rating group name of letters, digits, ".", "_" or "-" (at most 64)`);
}

function checkCommon(d: Record<string, unknown>, bad: string[], serviceOptional = false): void {
  if (!str(d.requestId, 8, 128)) bad.push('requestId: must be a string of 8–128 characters');
  const sub = checkSubscriber('subscriber', d.subscriber);
  if (!sub.ok) bad.push(sub.problem);
  if (serviceOptional && d.service === undefined) {
    // ch2.usage: the monitoring keys name their services
  } else if (typeof d.service !== 'string' || !SERVICE_RE.test(d.service))
    bad.push('service: must be a service name of letters, digits, ".", "_" or "-" (at most 64)');
  if (typeof d.timestamp !== 'string' || Number.isNaN(Date.parse(d.timestamp)))
    bad.push('timestamp: must be an ISO 8601 date-time');
  if (d.sessionId !== undefined && !str(d.sessionId, 1, 256)) bad.push('sessionId: must be a string of 1–256 characters');
}

const OUTCOMES = new Set(['delivered', 'rejected', 'timeout']);

/** The most debits one ch2.debits carries (one Lua script applies them all). */
export const MAX_DEBITS_ITEMS = 256;

function checkDebitsItems(v: unknown, bad: string[], batchId: unknown): void {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_DEBITS_ITEMS) {
    bad.push(`items: must be a non-empty array of at most ${MAX_DEBITS_ITEMS} {requestId, itemId, outcome, octets}`);
    return;
  }
  const ids = new Set<string>();
  const rids = new Set<string>();
  for (let i = 0; i < v.length; i++) {
    const it = v[i] as Record<string, string>;
    const f = `items[${i}]`;
    if (!isObject(it)) {
      bad.push(`${f}: must be an object {requestId, itemId, outcome, octets}`);
      continue;
    }
    if (!str(it.requestId, 8, 128)) bad.push(`${f}.requestId: must be a string of 8–128 characters`);
    else if (it.requestId === batchId) bad.push(`${f}.requestId: must differ from the batch's requestId`);
    else if (rids.has(it.requestId)) bad.push(`${f}.requestId: duplicate requestId ${JSON.stringify(it.requestId)}`);
    else rids.add(it.requestId);
    if (!str(it.itemId, 1, 128)) bad.push(`${f}.itemId: must be a string of 1–128 characters`);
    else if (ids.has(it.itemId)) bad.push(`${f}.itemId: duplicate itemId ${JSON.stringify(it.itemId)}`);
    else ids.add(it.itemId);
    if (typeof it.outcome !== 'string' || !OUTCOMES.has(it.outcome)) bad.push(`${f}.outcome: must be one of delivered, rejected, timeout`);
    if (!int(it.octets, 0, MAX_OCTETS)) bad.push(`${f}.octets: must be a non-negative integer`);
    if (it.ratingGroup !== undefined) checkRatingGroup(it.ratingGroup, `${f}.ratingGroup`, bad);
  }
}

/** A monitoring key's name (the admin API's path segment and ch2.usage's `monitoringKey`). */
export const MONITORING_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MEASURES = ['count', 'octets', 'sessionMs'] as const;
/** The largest usage threshold: 10^14, below which the ledger's JSON (cjson, 14 significant digits) is exact. */
export const MAX_USAGE_THRESHOLD = 10 ** 14;

/** Checks usage thresholds `{count?, octets?, sessionMs?}` (each an integer of at least 1), naming `field`'s members. */
export function checkUsageThresholds(v: unknown, field: string, bad: string[]): void {
  if (!isObject(v)) {
    bad.push(`${field}: must be an object {count?, octets?, sessionMs?}`);
    return;
  }
  for (const k of Object.keys(v)) {
    if (!(MEASURES as readonly string[]).includes(k)) bad.push(`${field}.${k}: unknown measure (count, octets or sessionMs)`);
    else if (!int(v[k], 1, MAX_USAGE_THRESHOLD)) bad.push(`${field}.${k}: must be an integer of 1–${MAX_USAGE_THRESHOLD}`);
  }
}

function checkUsage(d: Record<string, unknown>, bad: string[]): void {
  if (d.monitoringKey !== undefined && (typeof d.monitoringKey !== 'string' || !MONITORING_KEY_RE.test(d.monitoringKey)))
    bad.push('monitoringKey: must be a key name of letters, digits, ".", "_" or "-" (at most 64)');
  if (d.reset !== undefined && typeof d.reset !== 'boolean') bad.push('reset: must be true or false');
  if (d.rearm !== undefined) {
    checkUsageThresholds(d.rearm, 'rearm', bad);
    if (d.monitoringKey === undefined) bad.push('rearm: needs monitoringKey (the key whose report it acknowledges)');
  }
}

/** Validates `data` for `op`; on success the subscriber is normalised in the returned value. */
export function validateCh2Request<Op extends Ch2Operation>(op: Op, data: unknown): Validation<Ch2RequestMap[Op]> {
  if (!isObject(data)) return { ok: false, details: ['(payload): must be a JSON object'] };
  const bad: string[] = [];
  checkCommon(data, bad, op === 'usage');
  switch (op) {
    case 'reserve':
      checkItems(data.items, 'items', bad, true);
      if (data.validitySeconds !== undefined && !int(data.validitySeconds, 1, 86400))
        bad.push('validitySeconds: must be an integer of 1–86400');
      break;
    case 'debit':
      if (!str(data.reservationId, 1, 128)) bad.push('reservationId: must be a string of 1–128 characters');
      if (!str(data.itemId, 1, 128)) bad.push('itemId: must be a string of 1–128 characters');
      if (typeof data.outcome !== 'string' || !OUTCOMES.has(data.outcome))
        bad.push('outcome: must be one of delivered, rejected, timeout');
      if (!int(data.octets, 0, MAX_OCTETS)) bad.push('octets: must be a non-negative integer');
      if (data.ratingGroup !== undefined) checkRatingGroup(data.ratingGroup, 'ratingGroup', bad);
      break;
    case 'debits':
      if (!str(data.reservationId, 1, 128)) bad.push('reservationId: must be a string of 1–128 characters');
      checkDebitsItems(data.items, bad, data.requestId);
      break;
    case 'release':
      if (!str(data.reservationId, 1, 128)) bad.push('reservationId: must be a string of 1–128 characters');
      break;
    case 'direct-debit':
      checkItems(data.items, 'items', bad, true);
      if (data.outcome !== undefined && (typeof data.outcome !== 'string' || !OUTCOMES.has(data.outcome)))
        bad.push('outcome: must be one of delivered, rejected, timeout');
      break;
    case 'price':
      checkItems(data.items, 'items', bad, true);
      break;
    case 'balance':
      checkItems(data.items, 'items', bad, false);
      break;
    case 'refund':
      if (!str(data.cdrId, 1, 128)) bad.push('cdrId: must be a string of 1–128 characters');
      if (data.amount !== undefined && !int(data.amount, 1, MAX_MONEY))
        bad.push(`amount: must be a positive integer (minor units) of at most ${MAX_MONEY}`);
      break;
    case 'usage':
      checkUsage(data, bad);
      break;
    default:
      bad.push(`(operation): unknown CH-2 operation ${String(op)}`);
  }
  if (bad.length) return { ok: false, details: bad };
  const value = { ...data, subscriber: normalizeSubscriber(data.subscriber as string) } as unknown as Ch2RequestMap[Op];
  return { ok: true, value };
}
