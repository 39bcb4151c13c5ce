/**
 * Candidate background windows (T8 "transfer policies", TS 29.122 §4.5.3): the occurrences of the tariff's cheaper
 * windows (deploy/tariffs.yaml; cheaper = no price above the base and one below it) that overlap the desired window,
 * each cut to it. Pure: the tariff and the times come in, the occurrences go out. Tariff windows are local times
 * in the tariff's time zone, so an occurrence is found by walking local time (daylight saving changes included).
 */
import type { Tariff, TariffWindow } from '@imc/ch2';

export interface WindowOccurrence {
  /** `<tariff window name>@<start, compact UTC>`: the unit capacity is booked in. */
  windowId: string;
  window: TariffWindow;
  /** The whole occurrence of the tariff window (epoch ms). */
  startMs: number;
  stopMs: number;
  /** The part inside the desired window. */
  fromMs: number;
  toMs: number;
}

const MINUTE = 60000;
const DAY_MIN = 1440;

/** Tariff windows whose prices are cheaper than the base prices. */
export function cheaperWindows(t: Tariff): TariffWindow[] {
  return t.windows.filter(
    (w) =>
      w.pricePerMessage <= t.pricePerMessage &&
      w.pricePerKiB <= t.pricePerKiB &&
      (w.pricePerMessage < t.pricePerMessage || w.pricePerKiB < t.pricePerKiB),
  );
}

function compactIso(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export class WindowPlanner {
  private readonly fmt: Intl.DateTimeFormat;

  constructor(private readonly tariff: Tariff) {
    this.fmt = new Intl.DateTimeFormat('en-GB', { timeZone: tariff.timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  }

  /** Minutes after local midnight at `ms`. */
  private localMin(ms: number): number {
    let h = 0;
    let m = 0;
    for (const p of this.fmt.formatToParts(new Date(ms))) {
      if (p.type === 'hour') h = Number(p.value);
      else if (p.type === 'minute') m = Number(p.value);
    }
    return h * 60 + m;
  }

  /**
   * The first minute at or after `ms` whose local time is `target`, within a day: a jump by the local distance,
   * corrected once when a daylight-saving change lies between. A local time skipped by a spring-forward change is
   * met at the first minute past the gap.
   */
  private nextLocal(ms: number, target: number): number {
    const t0 = Math.ceil(ms / MINUTE) * MINUTE;
    const ahead = (target - this.localMin(t0) + DAY_MIN) % DAY_MIN;
    let t = t0 + ahead * MINUTE;
    const off = ((this.localMin(t) - target + DAY_MIN + 720) % DAY_MIN) - 720;
    if (off === 0) return t;
    t -= off * MINUTE;
    if (t >= t0 && this.localMin(t) === target) return t;
    // the target does not exist that day (skipped hour): the first minute whose local time is past it
    t = Math.max(t, t0);
    for (let i = 0; i < 180; i++, t += MINUTE) {
      const d = (this.localMin(t) - target + DAY_MIN) % DAY_MIN;
      if (d > 0 && d < 180) return t;
    }
    return t;
  }

  /** The occurrences of the cheaper windows overlapping [fromMs, toMs), oldest first. */
  occurrences(fromMs: number, toMs: number, only?: (w: TariffWindow) => boolean): WindowOccurrence[] {
    const out: WindowOccurrence[] = [];
    for (const w of cheaperWindows(this.tariff)) {
      if (only && !only(w)) continue;
      // an occurrence in progress at fromMs started before it: look from one day earlier
      let start = this.nextLocal(fromMs - DAY_MIN * MINUTE, w.fromMin);
      while (start < toMs) {
        const stop = this.nextLocal(start + MINUTE, w.toMin);
        if (stop > fromMs) {
          out.push({
            windowId: `${w.name}@${compactIso(start)}`,
            window: w,
            startMs: start,
            stopMs: stop,
            fromMs: Math.max(start, fromMs),
            toMs: Math.min(stop, toMs),
          });
        }
        start = this.nextLocal(start + MINUTE, w.fromMin);
      }
    }
    return out.sort((a, b) => a.fromMs - b.fromMs || a.windowId.localeCompare(b.windowId));
  }

}
