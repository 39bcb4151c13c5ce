/** The AoC-E at a session's end (end-advice.ts) on the fake clock: every wait is bounded, nothing is made up. */
import { FakeClock } from '@imc/sip';
import { parseAoc } from '@imc/retrieval-client';
import { SessionAoc } from '../aoc/session-aoc';
import { endAdvice } from './end-advice';

const SDP = 'v=0\r\n';
const reserve = { requestId: 'r', result: 'SUCCESS' as const, resultCode: 2001, currency: 'EUR', reservedAmount: 12, grantedItems: ['a', 'b'] };
const debit = { kind: 'answer' as const, res: { requestId: 'd', result: 'SUCCESS' as const, resultCode: 2001, currency: 'EUR', debitedAmount: 6 } };

function aoc(accept = 'application/sdp, application/vnd.etsi.aoc+xml') {
  const a = SessionAoc.forInvite([accept]);
  a.answerBody(SDP, reserve);
  a.debited(debit);
  return a;
}

const never = <T>() => new Promise<T>(() => undefined);
const flush = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

describe('endAdvice (AoC-E)', () => {
  it('the cost of the debits and the balance after', async () => {
    const clock = new FakeClock();
    const body = await endAdvice({ aoc: aoc(), charging: { balance: async () => ({ requestId: 'b', result: 'SUCCESS', resultCode: 2001, balance: 94 }) }, aor: 'sip:bob@example.com', clock, waitMs: 1500 });
    expect(parseAoc(new TextDecoder().decode(body!.body))).toMatchObject({ kind: 'aoc-e', amount: { units: 6 }, balanceAfter: { units: 94 } });
    expect(clock.pending()).toBe(0);
  });

  it('a balance that does not come in time is left out; debits unsettled in time make the cost not-available', async () => {
    const clock = new FakeClock();
    let asked = 0;
    const out = endAdvice({ aoc: aoc(), charging: { balance: () => (asked++, never()) }, aor: 'sip:bob@example.com', clock, settled: never(), waitMs: 1500 });
    await flush();
    clock.advance(1500); // all of the time went to the debits: the balance is not even asked
    const text = new TextDecoder().decode((await out)!.body);
    expect(text).toContain('<not-available/>');
    expect(text).not.toContain('remaining-balance');
    expect(asked).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('debits settled, the balance late: the cost with no balance after, once the time is up', async () => {
    const clock = new FakeClock();
    const out = endAdvice({ aoc: aoc(), charging: { balance: () => never() }, aor: 'sip:bob@example.com', clock, settled: Promise.resolve(), waitMs: 1500 });
    await flush();
    clock.advance(1499);
    let done = false;
    void out.then(() => (done = true));
    await flush();
    expect(done).toBe(false);
    clock.advance(1);
    expect(parseAoc(new TextDecoder().decode((await out)!.body))).toEqual({ kind: 'aoc-e', free: false, amount: { currency: 'EUR', units: 6, exponent: -2 } });
  });

  it('no AoC in Accept: no body and no CH-2 call; a negative balance is left out', async () => {
    const clock = new FakeClock();
    const balance = jest.fn(async () => ({ requestId: 'b', result: 'SUCCESS' as const, resultCode: 2001, balance: -3 }));
    expect(await endAdvice({ aoc: aoc('application/sdp'), charging: { balance }, aor: 'sip:bob@example.com', clock, waitMs: 1500 })).toBeUndefined();
    expect(balance).not.toHaveBeenCalled();
    const body = await endAdvice({ aoc: aoc(), charging: { balance }, aor: 'sip:bob@example.com', clock, waitMs: 1500 });
    expect(parseAoc(new TextDecoder().decode(body!.body))).toEqual({ kind: 'aoc-e', free: false, amount: { currency: 'EUR', units: 6, exponent: -2 } });
  });
});
