/**
 * Rating: the tariffs of TARIFFS_FILE (YAML or JSON) and the price of items (ch2-contract.md "Rating").
 * An item costs `pricePerMessage + pricePerKiB × ⌈octets / 1024⌉`; a time window (e.g. off-peak) replaces the
 * prices when the request's timestamp falls in it, in the tariff's time zone; `accounts` overrides per subscriber.
 * A rating group is a named price set: an entry of `ratingGroups`, or a window by its name. An item that names a
 * rating group (a background retrieval inside its booked window) is priced by it instead of by the time of day;
 * a window's `ratingGroup` names the group a background retrieval booked in that window is rated at (default: the
 * window's own prices).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { normalizeSubscriber, RATING_GROUP_RE } from './validation';

export interface Prices {
  pricePerMessage: number;
  pricePerKiB: number;
}
export interface TariffWindow extends Prices {
  name: string;
  /** Minutes after local midnight. */
  fromMin: number;
  toMin: number;
  /** The rating group of background retrievals booked in this window (default: the window's name). */
  ratingGroup: string;
}
export interface Tariff extends Prices {
  service: string;
  currency: string;
  timeZone: string;
  windows: TariffWindow[];
  accounts: Map<string, Prices>;
  /** Named price sets (`ratingGroups`); a window's name is a rating group too. */
  ratingGroups: Map<string, Prices>;
}

export class TariffFileError extends Error {
  constructor(file: string, problem: string) {
    super(`tariff file ${file}: ${problem}`);
    this.name = 'TariffFileError';
  }
}

export interface Rating {
  currency: string;
  /** Price of each item, in order. */
  prices: number[];
  total: number;
  /** Price of the smallest billable item (1 octet): the "one unit" of out-of-credit. */
  unitPrice: number;
  window?: string;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

function money(v: unknown, where: string, file: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new TariffFileError(file, `${where} must be a non-negative integer in minor units (got ${JSON.stringify(v)})`);
  return v;
}

export class TariffBook {
  private readonly tariffs = new Map<string, Tariff>();
  private readonly clocks = new Map<string, Intl.DateTimeFormat>();

  constructor(tariffs: Tariff[]) {
    for (const t of tariffs) this.tariffs.set(t.service, t);
  }

  static fromFile(file: string): TariffBook {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new TariffFileError(file, `cannot be read (${(e as Error).message})`);
    }
    let doc: unknown;
    try {
      doc = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    } catch (e) {
      throw new TariffFileError(file, `is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'} (${(e as Error).message})`);
    }
    return TariffBook.fromObject(doc, file);
  }

  static fromObject(doc: unknown, file = '(inline)'): TariffBook {
    const root = doc as { tariffs?: Record<string, Record<string, unknown>> };
    if (!root || typeof root !== 'object' || !root.tariffs || typeof root.tariffs !== 'object')
      throw new TariffFileError(file, 'must have a "tariffs" map of service → tariff');
    const out: Tariff[] = [];
    for (const [service, t] of Object.entries(root.tariffs)) {
      const where = `tariffs.${service}`;
      if (typeof t.currency !== 'string' || !/^[A-Z]{3}$/.test(t.currency))
        throw new TariffFileError(file, `${where}.currency must be an ISO 4217 code such as EUR`);
      const timeZone = typeof t.timeZone === 'string' ? t.timeZone : 'UTC';
      try {
        new Intl.DateTimeFormat('en-GB', { timeZone });
      } catch {
        throw new TariffFileError(file, `${where}.timeZone ${JSON.stringify(timeZone)} is not a known time zone`);
      }
      const windows: TariffWindow[] = [];
      for (const [i, w] of ((t.windows as Record<string, unknown>[] | undefined) ?? []).entries()) {
        const ww = `${where}.windows[${i}]`;
        const from = HHMM.exec(String(w.from));
        const to = HHMM.exec(String(w.to));
        if (!from || !to) throw new TariffFileError(file, `${ww} needs from/to as "HH:MM"`);
        const name = typeof w.name === 'string' ? w.name : `window-${i}`;
        if (w.ratingGroup !== undefined && (typeof w.ratingGroup !== 'string' || !RATING_GROUP_RE.test(w.ratingGroup)))
          throw new TariffFileError(file, `${ww}.ratingGroup must be a rating group name (letters, digits, ".", "_", "-")`);
        windows.push({
          name,
          ratingGroup: (w.ratingGroup as string | undefined) ?? name,
          fromMin: Number(from[1]) * 60 + Number(from[2]),
          toMin: Number(to[1]) * 60 + Number(to[2]),
          pricePerMessage: money(w.pricePerMessage ?? t.pricePerMessage, `${ww}.pricePerMessage`, file),
          pricePerKiB: money(w.pricePerKiB ?? t.pricePerKiB ?? 0, `${ww}.pricePerKiB`, file),
        });
      }
      const accounts = new Map<string, Prices>();
      for (const [sub, p] of Object.entries((t.accounts as Record<string, Record<string, unknown>> | undefined) ?? {})) {
        const norm = normalizeSubscriber(sub);
        if (!norm) throw new TariffFileError(file, `${where}.accounts: ${JSON.stringify(sub)} is not a sip:, sips: or tel: URI`);
        accounts.set(norm, {
          pricePerMessage: money(p.pricePerMessage ?? 0, `${where}.accounts.${sub}.pricePerMessage`, file),
          pricePerKiB: money(p.pricePerKiB ?? 0, `${where}.accounts.${sub}.pricePerKiB`, file),
        });
      }
      const ratingGroups = new Map<string, Prices>();
      for (const [g, p] of Object.entries((t.ratingGroups as Record<string, Record<string, unknown>> | undefined) ?? {})) {
        if (!RATING_GROUP_RE.test(g)) throw new TariffFileError(file, `${where}.ratingGroups: ${JSON.stringify(g)} is not a rating group name (letters, digits, ".", "_", "-")`);
        ratingGroups.set(g, {
          pricePerMessage: money(p?.pricePerMessage, `${where}.ratingGroups.${g}.pricePerMessage`, file),
          pricePerKiB: money(p?.pricePerKiB ?? 0, `${where}.ratingGroups.${g}.pricePerKiB`, file),
        });
      }
      for (const w of windows) {
        if (!ratingGroups.has(w.name)) ratingGroups.set(w.name, { pricePerMessage: w.pricePerMessage, pricePerKiB: w.pricePerKiB });
      }
      for (const w of windows) {
        if (!ratingGroups.has(w.ratingGroup)) throw new TariffFileError(file, `${where}.windows: ratingGroup ${JSON.stringify(w.ratingGroup)} of window ${w.name} is not in ratingGroups`);
      }
      out.push({
        service,
        currency: t.currency,
        timeZone,
        pricePerMessage: money(t.pricePerMessage, `${where}.pricePerMessage`, file),
        pricePerKiB: money(t.pricePerKiB ?? 0, `${where}.pricePerKiB`, file),
        windows,
        accounts,
        ratingGroups,
      });
    }
    return new TariffBook(out);
  }

  get(service: string): Tariff | undefined {
    return this.tariffs.get(service);
  }

  all(): Tariff[] {
    return [...this.tariffs.values()];
  }

  /** Last answer per time zone: requests arrive in bursts within one minute, and Intl formatting is the costly part. */
  private readonly lastMinute = new Map<string, { epochMin: number; local: number }>();

  /** Minutes after local midnight of `at` in `timeZone`. */
  private localMinutes(at: Date, timeZone: string): number {
    const epochMin = Math.floor(at.getTime() / 60000);
    const last = this.lastMinute.get(timeZone);
    if (last && last.epochMin === epochMin) return last.local;
    const local = this.formatMinutes(at, timeZone);
    this.lastMinute.set(timeZone, { epochMin, local });
    return local;
  }

  private formatMinutes(at: Date, timeZone: string): number {
    let f = this.clocks.get(timeZone);
    if (!f) {
      f = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
      this.clocks.set(timeZone, f);
    }
    const parts = f.formatToParts(at);
    let h = 0;
    let m = 0;
    for (const p of parts) {
      if (p.type === 'hour') h = Number(p.value);
      else if (p.type === 'minute') m = Number(p.value);
    }
    return h * 60 + m;
  }

  /** The prices in force for a subscriber at a time, and the window's name if one applies. */
  pricesAt(tariff: Tariff, subscriber: string, at: Date): { prices: Prices; window?: string } {
    const override = tariff.accounts.get(subscriber);
    if (override) return { prices: override };
    if (tariff.windows.length) {
      const min = this.localMinutes(at, tariff.timeZone);
      for (const w of tariff.windows) {
        const inside = w.fromMin <= w.toMin ? min >= w.fromMin && min < w.toMin : min >= w.fromMin || min < w.toMin;
        if (inside) return { prices: w, window: w.name };
      }
    }
    return { prices: tariff };
  }

  static itemPrice(p: Prices, octets: number): number {
    return p.pricePerMessage + Math.ceil(octets / 1024) * p.pricePerKiB;
  }

  /** The rating groups of `groups` that the service's tariff does not know (an item naming one cannot be rated). */
  unknownGroups(service: string, groups: readonly (string | undefined)[]): string[] {
    const tariff = this.tariffs.get(service);
    if (!tariff) return [];
    return [...new Set(groups.filter((g): g is string => g !== undefined && !tariff.ratingGroups.has(g)))];
  }

  /**
   * Rates items for a subscriber at a time; undefined when the service has no tariff. `groups[i]`, when given, is
   * item i's rating group: its price set replaces the time of day's (an account override still wins: an account the
   * operator made free stays free). Call `unknownGroups` first: an unknown group prices as the time of day.
   */
  rate(service: string, subscriber: string, timestamp: string, octets: readonly number[], groups?: readonly (string | undefined)[]): Rating | undefined {
    const tariff = this.tariffs.get(service);
    if (!tariff) return undefined;
    const { prices, window } = this.pricesAt(tariff, subscriber, new Date(timestamp));
    const override = tariff.accounts.has(subscriber);
    const out = new Array<number>(octets.length);
    let total = 0;
    for (let i = 0; i < octets.length; i++) {
      const g = !override && groups?.[i] !== undefined ? tariff.ratingGroups.get(groups[i]!) : undefined;
      out[i] = TariffBook.itemPrice(g ?? prices, octets[i]);
      total += out[i];
    }
    return { currency: tariff.currency, prices: out, total, unitPrice: TariffBook.itemPrice(prices, 1), window };
  }
}
