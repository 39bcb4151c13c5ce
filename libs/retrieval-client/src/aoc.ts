/**
 * Reading advice of charge on the client (3GPP TS 24.647 `application/vnd.etsi.aoc+xml`, RFC 5621 multipart
 * bodies): the AoC-S of a retrieval's 200 OK (the price of the granted messages) and the AoC-E of the BYE or of the
 * 200 to ours (the session's cost and the balance after). Amounts stay exact: `units × 10^exponent` of the currency,
 * from `currency-amount` and `multiplier` (EN 300 182's one-thousandth … thousand) or from a decimal
 * `currency-amount`. Tolerant of namespace prefixes; bounded (a body over 64 KiB is not read). Browser-safe.
 */
export const AOC_CONTENT_TYPE = 'application/vnd.etsi.aoc+xml';
/** What the client sends in the INVITE's Accept when it wants advice of charge. */
export const ACCEPT_WITH_AOC = `application/sdp, ${AOC_CONTENT_TYPE}`;
const MAX_BODY = 65536;

export interface AocMoney {
  currency?: string;
  /** The amount is `units × 10^exponent` (e.g. 12 and −2: 0.12). */
  units: number;
  exponent: number;
}

export interface AocInfo {
  kind: 'aoc-s' | 'aoc-e';
  /** AoC-S: the price of the granted messages; AoC-E: the recorded charges. Undefined for `not-available`. */
  amount?: AocMoney;
  free: boolean;
  /** AoC-E: the balance after the session (our extension element), when the server knew it. */
  balanceAfter?: AocMoney;
}

const EXPONENT: Record<string, number> = { 'one-thousandth': -3, 'one-hundredth': -2, 'one-tenth': -1, one: 0, ten: 1, hundred: 2, thousand: 3 };

/** The text of the first element `name` (any namespace prefix) inside `xml`. */
function element(xml: string, name: string): string | undefined {
  const m = new RegExp(`<(?:[\\w.-]+:)?${name}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:[\\w.-]+:)?${name}\\s*>`).exec(xml);
  return m?.[1];
}

function has(xml: string, name: string): boolean {
  return new RegExp(`<(?:[\\w.-]+:)?${name}(?:\\s[^>]*)?/?>`).test(xml);
}

function money(block: string | undefined): AocMoney | undefined {
  if (block === undefined) return undefined;
  const amount = element(block, 'currency-amount')?.trim();
  if (!amount || !/^\d{1,15}(\.\d{1,6})?$/.test(amount)) return undefined;
  const currency = element(block, 'currency-id')?.trim();
  const mult = element(block, 'multiplier')?.trim();
  const [int, frac = ''] = amount.split('.');
  const base = mult === undefined ? 0 : EXPONENT[mult];
  if (base === undefined) return undefined;
  return { ...(currency ? { currency } : {}), units: Number(int + frac), exponent: base - frac.length };
}

/** Parses an AoC XML body; undefined when it is not AoC-S or AoC-E. */
export function parseAoc(xml: string): AocInfo | undefined {
  if (xml.length > MAX_BODY) return undefined;
  const s = element(xml, 'aoc-s');
  if (s !== undefined) {
    const rated = element(s, 'flat-rate') ?? element(s, 'price-time');
    return { kind: 'aoc-s', amount: money(rated), free: has(s, 'free-charge') };
  }
  const e = element(xml, 'aoc-e');
  if (e !== undefined) {
    const charges = element(e, 'recorded-charges') ?? '';
    const balance = money(element(e, 'remaining-balance'));
    return { kind: 'aoc-e', amount: money(element(charges, 'recorded-currency-units')), free: has(charges, 'free-charge'), ...(balance ? { balanceAfter: balance } : {}) };
  }
  return undefined;
}

export interface MimePart {
  contentType: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * The parts of a `multipart/*` body (RFC 2046 §5.1.1): the boundary from the Content-Type's parameter, or — when
 * the caller has only the body — from its first delimiter line. Preamble and epilogue are dropped.
 */
export function splitMultipart(body: string, contentType?: string): MimePart[] {
  if (body.length > MAX_BODY * 4) return [];
  const boundary = contentType ? /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType) : null;
  const b = boundary ? (boundary[1] ?? boundary[2]) : /^--([^\r\n]+?)[ \t]*\r?$/m.exec(body)?.[1];
  if (!b) return [];
  const parts: MimePart[] = [];
  const segments = body.split(new RegExp(`(?:^|\\r?\\n)--${b.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  for (const seg of segments.slice(1)) {
    if (seg.startsWith('--')) break; // the close delimiter
    const text = seg.replace(/^[ \t]*\r?\n/, '');
    const blank = /\r?\n\r?\n/.exec(text);
    const head = blank ? text.slice(0, blank.index) : '';
    const headers: Record<string, string> = {};
    for (const line of head.split(/\r?\n/)) {
      const c = line.indexOf(':');
      if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
    }
    parts.push({ contentType: headers['content-type'] ?? 'text/plain', headers, body: blank ? text.slice(blank.index + blank[0].length) : text });
  }
  return parts;
}

function mediaType(ct: string): string {
  return ct.split(';')[0].trim().toLowerCase();
}

/** A SIP body as SDP and AoC: a bare SDP, a bare AoC body, or a multipart/mixed holding either or both. */
export function readSipBody(body: string, contentType: string | undefined): { sdp?: string; aoc?: AocInfo } {
  const t = mediaType(contentType ?? (body.startsWith('--') ? 'multipart/mixed' : 'application/sdp'));
  if (t === 'application/sdp') return { sdp: body };
  if (t === AOC_CONTENT_TYPE) return { aoc: parseAoc(body) };
  if (!t.startsWith('multipart/')) return {};
  const out: { sdp?: string; aoc?: AocInfo } = {};
  for (const p of splitMultipart(body, contentType)) {
    const pt = mediaType(p.contentType);
    if (pt === 'application/sdp') out.sdp ??= p.body;
    else if (pt === AOC_CONTENT_TYPE) out.aoc ??= parseAoc(p.body);
  }
  return out;
}

/** "0.12 EUR": the exact decimal of an amount (no float rounding), with its currency. */
export function formatAocMoney(m: AocMoney, fallbackCurrency = ''): string {
  const neg = m.units < 0;
  let digits = String(Math.abs(m.units));
  let text: string;
  if (m.exponent >= 0) text = digits + '0'.repeat(m.exponent);
  else {
    const k = -m.exponent;
    digits = digits.padStart(k + 1, '0');
    text = `${digits.slice(0, digits.length - k)}.${digits.slice(digits.length - k)}`;
  }
  const cur = m.currency ?? fallbackCurrency;
  return `${neg ? '-' : ''}${text}${cur ? ` ${cur}` : ''}`;
}
