/**
 * The AoC-E of a retrieval's end (retrieval-flow.md "Advice of charge"): the session's cost once its debits are
 * settled, and the balance after it (`ch2.balance`), for the server's BYE or the 200 OK to the client's. Every wait
 * is bounded (`waitMs` in all, on the SIP front's clock): a BYE is never held for long. Debits still unsettled when
 * the time is up make the cost `not-available`; a balance that did not come in time is left out.
 */
import type { Clock } from '@imc/sip';
import type { SessionAoc, SipBody } from '../aoc/session-aoc';
import type { RetrievalCharging } from './retrieval-ports';

/** How long the 200 OK to a client's BYE may wait for the AoC-E (the retrieval client waits 2 s for that answer). */
export const BYE_ANSWER_WAIT_MS = 1500;

export interface EndAdviceInput {
  aoc: Pick<SessionAoc, 'negotiated' | 'incomplete' | 'endBody'>;
  charging: Pick<RetrievalCharging, 'balance'>;
  aor: string;
  clock: Clock;
  /** Resolves once every debit of the session is settled (undefined: nothing in flight). */
  settled?: Promise<unknown>;
  waitMs: number;
}

/** The AoC-E body, or undefined when the INVITE did not negotiate AoC (or nothing was ever priced). */
export async function endAdvice(o: EndAdviceInput): Promise<SipBody | undefined> {
  if (!o.aoc.negotiated) return undefined;
  const deadline = o.clock.now() + o.waitMs;
  if (o.settled && (await within(o.clock, o.settled, o.waitMs)) === LATE) o.aoc.incomplete();
  const left = deadline - o.clock.now();
  const b = left > 0 ? await within(o.clock, o.charging.balance(o.aor).catch(() => undefined), left) : LATE;
  // a balance below zero (an overdraft the AoC-E has no way to say) is left out rather than refusing the body
  const balanceAfter = b === LATE || b?.balance === undefined || b.balance < 0 ? undefined : b.balance;
  return o.aoc.endBody(balanceAfter);
}

export const LATE = Symbol('late');

/** `p`, or LATE once `ms` passed on `clock`; the timer never outlives the wait. */
export async function within<T>(clock: Clock, p: Promise<T>, ms: number): Promise<T | typeof LATE> {
  let timer: { cancel(): void } | undefined;
  const late = new Promise<typeof LATE>((r) => (timer = clock.setTimer(ms, () => r(LATE))));
  try {
    return await Promise.race([p, late]);
  } finally {
    timer?.cancel();
  }
}
