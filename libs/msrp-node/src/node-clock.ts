import type { MsrpClock } from '@imc/msrp';

/** The system clock for MSRP sessions (timers unref'd so they never hold a process open). */
export const nodeMsrpClock: MsrpClock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};
