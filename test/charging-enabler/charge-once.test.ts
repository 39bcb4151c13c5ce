/**
 * A message is charged once, whatever path charges it and under whichever reservation (retrieval-flow.md "Charged
 * once, whatever crashes"): the enabler's charge-once mark belongs to the subscriber's message, so a redelivery in a
 * later session, a direct-debit fallback or a deferred charge finds the first charge; a charge refunded in full no
 * longer counts. Every CDR of a message names it and the outcome that caused it. Money is checked against the CDRs.
 */
import type { NatsConnection } from 'nats';
import type { Ch2Client, Cdr } from '@imc/ch2';
import type { RunningEnabler } from '../../apps/charging-enabler/src/bootstrap';
import { admin, ch2ClientFor, common, Namespace, startEnabler, subscriber, testNamespace } from '../support/enabler-harness';

const P = 12; // im.test, 100-octet item: 10 + 2 per started KiB
const item = (id: string) => ({ id, octets: 100 });

describe('charged once per message', () => {
  let ns: Namespace;
  let e: RunningEnabler;
  let nc: NatsConnection;
  let ch2: Ch2Client;

  beforeAll(async () => {
    ns = testNamespace();
    e = await startEnabler(ns);
    ({ nc, ch2 } = await ch2ClientFor(ns, { timeoutMs: 10000 }));
  });
  afterAll(async () => {
    await nc.close();
    await e.close();
  });

  async function account(balance: number) {
    const sub = subscriber();
    expect((await admin(e.httpPort, 'POST', '/v1/accounts', { subscriber: sub, balance, currency: 'EUR' })).status).toBe(201);
    return sub;
  }
  const show = async (sub: string) => (await admin(e.httpPort, 'GET', `/v1/accounts/${encodeURIComponent(sub)}`)).json;
  const cdrs = async (sub: string): Promise<Cdr[]> => (await e.cdrs.list({ subscriber: sub, limit: 1000 })).cdrs;
  async function reserve(sub: string, ids: string[]) {
    const r = await ch2.reserve({ ...common(sub), items: ids.map(item) });
    expect(r.result).toBe('SUCCESS');
    return r.reservationId!;
  }
  const debit = (sub: string, reservationId: string, itemId: string, outcome: 'delivered' | 'rejected' | 'timeout' = 'delivered') =>
    ch2.debit({ ...common(sub), reservationId, itemId, outcome, octets: 100 });

  /** initial + refunds − charges = balance, from the account and from the CDRs; nothing left held. */
  async function expectConserved(sub: string, initial: number) {
    const a = await show(sub);
    const all = await cdrs(sub);
    const sum = (t: string) => all.filter((c) => c.type === t).reduce((s, c) => s + c.amount, 0);
    expect(initial + sum('refund') - sum('debit') - sum('direct-debit')).toBe(a.balance);
    expect(sum('debit') + sum('direct-debit')).toBe(a.totals.debits);
    expect(a.reserved).toBe(0);
    return all;
  }

  it('a redelivery under a new reservation finds the first charge: charged nothing, its hold returned, no CDR', async () => {
    const sub = await account(100);
    const r1 = await reserve(sub, ['m1', 'm2']);
    const first = await debit(sub, r1, 'm1');
    expect(first).toMatchObject({ result: 'SUCCESS', debitedAmount: P });
    // the im-server died before deleting m1: the next session reserves and delivers it again
    const r2 = await reserve(sub, ['m1', 'm2']);
    const again = await debit(sub, r2, 'm1');
    expect(again).toMatchObject({ result: 'SUCCESS', debitedAmount: 0, chargedBy: { cdrId: first.cdrId, outcome: 'delivered' } });
    expect(again.cdrId).toBeUndefined();
    expect(await show(sub)).toMatchObject({ balance: 100 - P, reserved: 2 * P }); // r1 and r2 each hold m2
    // the same item of r2 again, another requestId: already settled in r2
    expect(await debit(sub, r2, 'm1')).toMatchObject({ result: 'UNKNOWN_RESERVATION', settled: true });
    expect((await debit(sub, r2, 'm2')).debitedAmount).toBe(P);
    expect((await ch2.release({ ...common(sub), reservationId: r1 })).releasedAmount).toBe(P); // r1's hold of m2
    expect((await ch2.release({ ...common(sub), reservationId: r2 })).releasedAmount).toBe(0);
    const all = await expectConserved(sub, 100);
    expect(all.filter((c) => c.type === 'debit').map((c) => c.itemId).sort()).toEqual(['m1', 'm2']);
  });

  it('the direct-debit fallback of a message already debited charges nothing; a fallback names item and outcome', async () => {
    const sub = await account(100);
    const r1 = await reserve(sub, ['a1']);
    const d = await debit(sub, r1, 'a1');
    const dd = await ch2.directDebit({ ...common(sub), items: [item('a1')], outcome: 'delivered' });
    expect(dd).toMatchObject({ result: 'SUCCESS', debitedAmount: 0, chargedBy: { cdrId: d.cdrId, outcome: 'delivered' } });
    // a message charged first by a direct debit (its reservation was gone) is not charged by a later debit either
    const t = await ch2.directDebit({ ...common(sub), items: [item('a2')], outcome: 'timeout' });
    expect(t).toMatchObject({ result: 'SUCCESS', debitedAmount: P });
    const r2 = await reserve(sub, ['a2']);
    expect(await debit(sub, r2, 'a2', 'delivered')).toMatchObject({ result: 'SUCCESS', debitedAmount: 0, chargedBy: { cdrId: t.cdrId, outcome: 'timeout' } });
    // several items, one of them charged before: only the others are charged
    const both = await ch2.directDebit({ ...common(sub), items: [item('a2'), item('a3')] });
    expect(both).toMatchObject({ result: 'SUCCESS', debitedAmount: P });
    await ch2.release({ ...common(sub), reservationId: r1 });
    await ch2.release({ ...common(sub), reservationId: r2 });
    const all = await expectConserved(sub, 100);
    expect((await show(sub)).balance).toBe(100 - 3 * P);
    const direct = all.filter((c) => c.type === 'direct-debit');
    expect(direct.map((c) => [c.itemId, c.outcome, c.amount])).toEqual([
      ['a2', 'timeout', P],
      ['a3', undefined, P],
    ]);
  });

  it('under on-outcome a message charged for its timeout is not charged again when delivered later', async () => {
    const sub = await account(100);
    const r1 = await reserve(sub, ['t1']);
    const timeout = await debit(sub, r1, 't1', 'timeout');
    expect(timeout.debitedAmount).toBe(P);
    await ch2.release({ ...common(sub), reservationId: r1 });
    const r2 = await reserve(sub, ['t1']);
    expect(await debit(sub, r2, 't1', 'delivered')).toMatchObject({ debitedAmount: 0, chargedBy: { cdrId: timeout.cdrId, outcome: 'timeout' } });
    await ch2.release({ ...common(sub), reservationId: r2 });
    const all = await expectConserved(sub, 100);
    expect(all.filter((c) => c.type === 'debit').map((c) => [c.itemId, c.outcome])).toEqual([['t1', 'timeout']]);
  });

  it('a charge refunded in full no longer counts: the message is charged when it is delivered later', async () => {
    const sub = await account(100);
    const r1 = await reserve(sub, ['b1']);
    const d = await debit(sub, r1, 'b1'); // before-send: debited, then the connection failed before any byte left
    const refund = await ch2.refund({ ...common(sub), cdrId: d.cdrId! });
    expect(refund).toMatchObject({ result: 'SUCCESS', refundedAmount: P });
    await ch2.release({ ...common(sub), reservationId: r1 });
    const r2 = await reserve(sub, ['b1']);
    const again = await debit(sub, r2, 'b1');
    expect(again).toMatchObject({ result: 'SUCCESS', debitedAmount: P });
    expect(again.chargedBy).toBeUndefined();
    // a partial refund leaves the charge standing
    await ch2.refund({ ...common(sub), cdrId: again.cdrId!, amount: 1 });
    const r3 = await reserve(sub, ['b1']);
    expect(await debit(sub, r3, 'b1')).toMatchObject({ debitedAmount: 0, chargedBy: { cdrId: again.cdrId } });
    await ch2.release({ ...common(sub), reservationId: r3 });
    const all = await expectConserved(sub, 100);
    expect((await show(sub)).balance).toBe(100 - P + 1);
    expect(all.filter((c) => c.type === 'refund').map((c) => [c.itemId, c.outcome])).toEqual([
      ['b1', 'delivered'],
      ['b1', 'delivered'],
    ]);
  });

  it('a charge a later delivery relied on is not refunded in full (a queued before-send refund replayed late)', async () => {
    const sub = await account(100);
    // session A: before-send debit of m applied, its answer lost; the im-server queues it with a refund-if-charged
    const r1 = await reserve(sub, ['m']);
    const d1 = await debit(sub, r1, 'm');
    expect(d1).toMatchObject({ result: 'SUCCESS', debitedAmount: P });
    // session B (before the queue drained) delivers m, settled on the first charge
    const r2 = await reserve(sub, ['m']);
    expect(await debit(sub, r2, 'm')).toMatchObject({ result: 'SUCCESS', debitedAmount: 0, chargedBy: { cdrId: d1.cdrId } });
    // the queue replays A's debit and asks for the refund of what it thinks never left: refused, nothing moves
    const refund = await ch2.refund({ ...common(sub), cdrId: d1.cdrId! });
    expect(refund.result).toBe('INVALID_REQUEST');
    expect(refund.details?.[0]).toMatch(/cannot be refunded in full/);
    expect(await show(sub)).toMatchObject({ balance: 100 - P });
    // a partial refund (an operator's goodwill) still goes through; the message stays charged once
    expect((await ch2.refund({ ...common(sub), cdrId: d1.cdrId!, amount: 2 })).result).toBe('SUCCESS');
    const r3 = await reserve(sub, ['m']);
    expect((await debit(sub, r3, 'm')).debitedAmount).toBe(0);
    for (const r of [r1, r2, r3]) await ch2.release({ ...common(sub), reservationId: r });
    await expectConserved(sub, 100);
  });

  it('the mark belongs to the subscriber: the same message id of another subscriber is charged', async () => {
    const a = await account(100);
    const b = await account(100);
    await debit(a, await reserve(a, ['same']), 'same');
    expect((await debit(b, await reserve(b, ['same']), 'same')).debitedAmount).toBe(P);
  });
});
