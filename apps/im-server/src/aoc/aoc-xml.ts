/**
 * Advice of charge bodies, `application/vnd.etsi.aoc+xml` (3GPP TS 24.647 / ETSI TS 183 047, the XML form of the
 * ISDN AoC of EN 300 182): AoC-S (the price before, in the 200 OK of a retrieval INVITE) and AoC-E (the cost after,
 * in the BYE or its 200). Ro's AoC-Information (TS 32.299) is the model for what goes in: the cost in the account's
 * currency, and the balance left (Ro's Remaining-Balance), which TS 24.647 has no element for — it goes in an
 * extension element of our own namespace, which a TS 24.647 reader skips.
 *
 * Money is integer minor units everywhere in this product; on the wire it is `currency-amount` (an integer) with
 * `multiplier` (EN 300 182 Multiplier: one-thousandth … thousand) saying what one unit is worth, so
 * 12 with `one-hundredth` is 0.12 EUR and nothing is ever rounded through a float.
 */
export const AOC_CONTENT_TYPE = 'application/vnd.etsi.aoc+xml';
export const AOC_NS = 'http://uri.etsi.org/ngn/params/xml/simservs/aoc';
/** Our extension namespace (Ro Remaining-Balance has no TS 24.647 element). */
export const AOC_EXT_NS = 'urn:x-imc:params:xml:ns:aoc-ext';

/** EN 300 182 Multiplier values, by the power of ten one unit is worth. */
const MULTIPLIERS: Record<number, string> = { [-3]: 'one-thousandth', [-2]: 'one-hundredth', [-1]: 'one-tenth', 0: 'one', 1: 'ten', 2: 'hundred', 3: 'thousand' };

/** ISO 4217 currencies whose minor unit is not the hundredth (the rest, EUR among them, have two decimals). */
const MINOR_DIGITS: Record<string, number> = { JPY: 0, KRW: 0, ISK: 0, CLP: 0, VND: 0, XAF: 0, XOF: 0, BHD: 3, KWD: 3, OMR: 3, JOD: 3, TND: 3, LYD: 3, IQD: 3 };

/** The multiplier of one minor unit of `currency` (ISO 4217 code). */
export function minorUnitMultiplier(currency: string): string {
  return MULTIPLIERS[-(MINOR_DIGITS[currency.toUpperCase()] ?? 2)];
}

function esc(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function checkMoney(field: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${field}: must be a non-negative integer of minor units, got ${v}`);
}

function checkCurrency(c: string): void {
  if (!/^[A-Z]{3}$/.test(c)) throw new RangeError(`currency: must be an ISO 4217 code, got ${JSON.stringify(c)}`);
}

function units(tag: string, currency: string, amount: number, ns = '', attrs = ''): string {
  return (
    `<${ns}${tag}${attrs}><${ns}currency-id>${esc(currency)}</${ns}currency-id>` +
    `<${ns}currency-amount>${amount}</${ns}currency-amount>` +
    `<${ns}multiplier>${minorUnitMultiplier(currency)}</${ns}multiplier></${ns}${tag}>`
  );
}

const HEAD = '<?xml version="1.0" encoding="UTF-8"?>\r\n';

export interface AocSInput {
  currency: string;
  /** Price of the granted messages, minor units (the reservation's held amount). */
  amount: number;
}

/**
 * AoC-S (TS 24.647 §4.5.2.x, "charging information at communication set-up"): the price of the messages this
 * session was granted, as one flat rate for the basic communication. Free (0) is `free-charge`.
 */
export function buildAocS(s: AocSInput): string {
  checkCurrency(s.currency);
  checkMoney('amount', s.amount);
  const rate = s.amount === 0 ? '<free-charge/>' : units('flat-rate', s.currency, s.amount);
  return `${HEAD}<aoc xmlns="${AOC_NS}"><aoc-s><charged-items><basic>${rate}</basic></charged-items></aoc-s></aoc>\r\n`;
}

export interface AocEInput {
  currency: string;
  /** Total the session's debits charged, minor units; undefined when a debit is still unconfirmed (queued). */
  cost: number | undefined;
  /** Balance after the session, minor units, when known. */
  balanceAfter?: number;
}

/**
 * AoC-E (charging information at the end of the communication): the recorded charges of the session — `not-available`
 * while a debit waits in the retry queue — and the balance after it in our extension element.
 */
export function buildAocE(e: AocEInput): string {
  checkCurrency(e.currency);
  if (e.cost !== undefined) checkMoney('cost', e.cost);
  if (e.balanceAfter !== undefined) checkMoney('balanceAfter', e.balanceAfter);
  const charges = e.cost === undefined ? '<not-available/>' : e.cost === 0 ? '<free-charge/>' : units('recorded-currency-units', e.currency, e.cost);
  const balance = e.balanceAfter === undefined ? '' : units('remaining-balance', e.currency, e.balanceAfter, 'x:', ` xmlns:x="${AOC_EXT_NS}"`);
  return `${HEAD}<aoc xmlns="${AOC_NS}"><aoc-e><recorded-charges>${charges}</recorded-charges><billing-id>normal-charging</billing-id>${balance}</aoc-e></aoc>\r\n`;
}
