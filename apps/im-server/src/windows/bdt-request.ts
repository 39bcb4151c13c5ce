/**
 * Validation of the T8 request bodies (TS 29.122 Bdt / PatchBdt shapes, docs/windows-and-usage.md). A failure is a
 * problem naming every bad field (`invalidParams`, TS 29.122 §5.2.6 ProblemDetails), never a crash.
 */
import { RATING_GROUP_RE } from '@imc/ch2';
import type { BdtResource, TimeWindow } from './bdt-types';

export interface InvalidParam {
  param: string;
  reason: string;
}
export interface Problem {
  status: number;
  title: string;
  detail?: string;
  invalidParams?: InvalidParam[];
}
export type Checked<T> = { ok: true; value: T } | { ok: false; problem: Problem };

export interface CreateBody {
  totalVolume: number;
  numberOfUes: number;
  fromMs: number;
  toMs: number;
  desiredTimeWindow: TimeWindow;
  ratingGroup?: string;
}

const MAX_VOLUME = 2 ** 40;
const MAX_UES = 10_000_000;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const posInt = (v: unknown, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max;

export const badRequest = (invalidParams: InvalidParam[]): Problem => ({
  status: 400,
  title: 'Bad Request',
  detail: `invalid ${invalidParams.map((p) => p.param).join(', ')}`,
  invalidParams,
});

export function parseCreate(body: unknown, nowMs: number, maxWindowDays: number): Checked<CreateBody> {
  const bad: InvalidParam[] = [];
  const b = isObject(body) ? body : {};
  if (!isObject(body)) bad.push({ param: '(body)', reason: 'must be a JSON object' });
  const vol = isObject(b.volumePerUe) ? b.volumePerUe.totalVolume : undefined;
  if (!posInt(vol, MAX_VOLUME)) bad.push({ param: 'volumePerUe.totalVolume', reason: `must be a positive integer of octets (at most ${MAX_VOLUME})` });
  if (!posInt(b.numberOfUes, MAX_UES)) bad.push({ param: 'numberOfUes', reason: `must be a positive integer (at most ${MAX_UES})` });
  const w = isObject(b.desiredTimeWindow) ? b.desiredTimeWindow : {};
  if (!isObject(b.desiredTimeWindow)) bad.push({ param: 'desiredTimeWindow', reason: 'must be an object {startTime, stopTime}' });
  const time = (f: 'startTime' | 'stopTime'): number | undefined => {
    const v = w[f];
    const ms = typeof v === 'string' && ISO_UTC.test(v) ? Date.parse(v) : NaN;
    if (Number.isNaN(ms)) {
      if (isObject(b.desiredTimeWindow)) bad.push({ param: `desiredTimeWindow.${f}`, reason: 'must be an ISO 8601 date-time with its offset (e.g. 2026-12-05T22:00:00Z)' });
      return undefined;
    }
    return ms;
  };
  const fromMs = time('startTime');
  const toMs = time('stopTime');
  if (fromMs !== undefined && toMs !== undefined) {
    if (toMs <= fromMs) bad.push({ param: 'desiredTimeWindow.stopTime', reason: 'must be after startTime' });
    else if (toMs <= nowMs) bad.push({ param: 'desiredTimeWindow.stopTime', reason: 'must be in the future' });
    else if (toMs - fromMs > maxWindowDays * 86400000) bad.push({ param: 'desiredTimeWindow', reason: `must span at most ${maxWindowDays} days (BDT_MAX_WINDOW_DAYS)` });
  }
  if (b.ratingGroup !== undefined && (typeof b.ratingGroup !== 'string' || !RATING_GROUP_RE.test(b.ratingGroup)))
    bad.push({ param: 'ratingGroup', reason: 'must be a rating group name (letters, digits, ".", "_", "-")' });
  if (bad.length) return { ok: false, problem: badRequest(bad) };
  return {
    ok: true,
    value: {
      totalVolume: vol as number,
      numberOfUes: b.numberOfUes as number,
      fromMs: fromMs!,
      toMs: toMs!,
      desiredTimeWindow: { startTime: new Date(fromMs!).toISOString(), stopTime: new Date(toMs!).toISOString() },
      ...(b.ratingGroup !== undefined ? { ratingGroup: b.ratingGroup as string } : {}),
    },
  };
}

/** The fields a PATCH may not change once the resource is granted (the seed's open editor's note, decided here). */
const IMMUTABLE = ['volumePerUe', 'numberOfUes', 'desiredTimeWindow', 'ratingGroup'] as const;
const MUTABLE = new Set<string>(['selectedPolicy']);

function sameWindow(a: unknown, b: TimeWindow): boolean {
  if (!isObject(a)) return false;
  return Date.parse(String(a.startTime)) === Date.parse(b.startTime) && Date.parse(String(a.stopTime)) === Date.parse(b.stopTime);
}

/**
 * A PATCH selects a policy. Repeating a fixed field with its granted value is harmless; changing one is `409
 * Conflict` naming it (the grant — capacity booked against that volume and window — stands until the resource is
 * deleted and negotiated again); an unknown field or a bad `selectedPolicy` is `400`.
 */
export function parsePatch(body: unknown, r: BdtResource): Checked<number> {
  if (!isObject(body)) return { ok: false, problem: badRequest([{ param: '(body)', reason: 'must be a JSON object {selectedPolicy}' }]) };
  const changed: InvalidParam[] = [];
  for (const f of IMMUTABLE) {
    if (body[f] === undefined) continue;
    const same =
      f === 'volumePerUe' ? isObject(body.volumePerUe) && body.volumePerUe.totalVolume === r.volumePerUe.totalVolume
        : f === 'desiredTimeWindow' ? sameWindow(body.desiredTimeWindow, r.desiredTimeWindow)
          : body[f] === r[f];
    if (!same) changed.push({ param: f, reason: 'cannot change once the resource is granted; delete it and negotiate again' });
  }
  if (changed.length) return { ok: false, problem: { status: 409, title: 'Conflict', detail: `cannot change ${changed.map((c) => c.param).join(', ')}`, invalidParams: changed } };
  const unknown = Object.keys(body).filter((k) => !MUTABLE.has(k) && !(IMMUTABLE as readonly string[]).includes(k));
  const bad: InvalidParam[] = unknown.map((param) => ({ param, reason: 'is not a field of the resource that a PATCH can set' }));
  const p = body.selectedPolicy;
  if (!r.transferPolicies.some((t) => t.bdtPolicyId === p))
    bad.push({ param: 'selectedPolicy', reason: `must be the bdtPolicyId of an offered policy (${r.transferPolicies.map((t) => t.bdtPolicyId).join(', ') || 'none'})` });
  if (bad.length) return { ok: false, problem: badRequest(bad) };
  return { ok: true, value: p as number };
}
