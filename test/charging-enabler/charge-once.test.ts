/**
 * A message is charged once, whatever path charges it and under whichever reservation (retrieval-flow.md "Charged
 * once, whatever crashes"): the enabler's charge-once mark belongs to the subscriber's message, so a redelivery in a
 * later session, a direct-debit fallback or a deferred charge finds the first charge; a charge refunded in full no
 * longer counts. Every CDR of a message names it and the outcome that caused it. Money is checked against the CDRs.
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from 'nats';
import type { Ch2Client, Cdr, DebitsItem } from '@imc/ch2';
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

  /**
   * ch2.debits (ch2-contract.md "ch2.debits"): several debits of one reservation in one request, one Lua script.
   * Each item is applied as its own ch2.debit — its own CDR, charge-once mark and stored answer under its own
   * requestId — so a replay of the batch, a ch2.debit of one of its items, or a batch carrying an item charged
   * before changes nothing more.
   */
  describe('ch2.debits: several debits of one reservation, each its own', () => {
    const debitItem = (itemId: string, outcome: DebitsItem['outcome'] = 'delivered'): DebitsItem => ({ requestId: `dbt:${randomUUID()}`, itemId, outcome, octets: 100 });
    const debits = (sub: string, reservationId: string, items: DebitsItem[], requestId = `dbs:${randomUUID()}`) =>
      ch2.debits({ ...common(sub), requestId, sessionId: 'call-1', reservationId, items });

    it('charges each item once with its own CDR and requestId, and marks each charged', async () => {
      const sub = await account(100);
      const rid = await reserve(sub, ['m1', 'm2', 'm3', 'm4']);
      const items = [debitItem('m1'), debitItem('m2', 'rejected'), debitItem('m3')];
      const res = await debits(sub, rid, items);
      expect(res.result).toBe('SUCCESS');
      expect(res.items).toHaveLength(3);
      res.items!.forEach((r, i) => expect(r).toMatchObject({ requestId: items[i].requestId, result: 'SUCCESS', debitedAmount: P, cdrId: expect.any(String) }));
      expect(new Set(res.items!.map((r) => r.cdrId)).size).toBe(3);
      expect(res.items!.map((r) => r.remainingReserved)).toEqual([3 * P, 2 * P, P]);
      expect(await show(sub)).toMatchObject({ balance: 100 - 3 * P, reserved: P });
      const debitCdrs = (await cdrs(sub)).filter((c) => c.type === 'debit').sort((x, y) => (x.itemId! < y.itemId! ? -1 : 1));
      expect(debitCdrs.map((c) => [c.itemId, c.requestId, c.outcome, c.amount, c.reservationId, c.sessionId])).toEqual([
        ['m1', items[0].requestId, 'delivered', P, rid, 'call-1'],
        ['m2', items[1].requestId, 'rejected', P, rid, 'call-1'],
        ['m3', items[2].requestId, 'delivered', P, rid, 'call-1'],
      ]);
      // each item's charge-once mark: a redelivery under a new reservation is charged nothing and names that item's CDR
      const r2 = await reserve(sub, ['m2', 'm3']);
      const again = await debits(sub, r2, [debitItem('m2'), debitItem('m3')]);
      expect(again.items!.map((r) => [r.debitedAmount, r.chargedBy?.cdrId])).toEqual([
        [0, res.items![1].cdrId],
        [0, res.items![2].cdrId],
      ]);
      expect((await ch2.release({ ...common(sub), reservationId: rid })).releasedAmount).toBe(P); // m4's hold
      expect((await expectConserved(sub, 100)).filter((c) => c.type === 'debit')).toHaveLength(3);
      expect((await show(sub)).balance).toBe(100 - 3 * P);
    });

    it('a replay of the batch, or a ch2.debit of one of its items, gets the stored answers and changes nothing', async () => {
      const sub = await account(100);
      const rid = await reserve(sub, ['a1', 'a2']);
      const items = [debitItem('a1'), debitItem('a2')];
      const first = await debits(sub, rid, items, 'dbs:replayed-batch');
      const before = { account: await show(sub), cdrs: await expectConserved(sub, 100) };
      const replay = await debits(sub, rid, items, 'dbs:replayed-batch');
      expect(replay).toEqual(first);
      // the item's own requestId, as the im-server's retry queue replays it after a batch got no answer
      const single = await ch2.debit({ ...common(sub), requestId: items[1].requestId, reservationId: rid, itemId: 'a2', outcome: 'delivered', octets: 100 });
      expect(single).toEqual(first.items![1]);
      // the same items in another batch with their requestIds: each item's stored answer
      const rebatched = await debits(sub, rid, [items[1], items[0]]);
      expect(rebatched.items).toEqual([first.items![1], first.items![0]]);
      const after = { account: await show(sub), cdrs: await expectConserved(sub, 100) };
      expect(after.account).toEqual(before.account);
      expect(after.cdrs).toHaveLength(before.cdrs.length);
    });

    it('a batch with an item charged before: that item is not charged again, the others are', async () => {
      const sub = await account(100);
      const rid = await reserve(sub, ['b1', 'b2', 'b3']);
      // b1 was debited alone first (its requestId answered), b2 charged by a direct debit (its reservation seemed gone)
      const b1 = debitItem('b1');
      const d1 = await ch2.debit({ ...common(sub), requestId: b1.requestId, reservationId: rid, itemId: 'b1', outcome: 'delivered', octets: 100 });
      expect(d1).toMatchObject({ result: 'SUCCESS', debitedAmount: P });
      const dd = await ch2.directDebit({ ...common(sub), items: [item('b2')], outcome: 'timeout' });
      expect(dd).toMatchObject({ result: 'SUCCESS', debitedAmount: P });
      const res = await debits(sub, rid, [b1, debitItem('b2'), debitItem('b3')]);
      expect(res.items![0]).toEqual(d1);
      expect(res.items![1]).toMatchObject({ result: 'SUCCESS', debitedAmount: 0, chargedBy: { cdrId: dd.cdrId, outcome: 'timeout' } });
      expect(res.items![2]).toMatchObject({ result: 'SUCCESS', debitedAmount: P });
      // b1 under another requestId in the same reservation: already settled, never charged another way
      expect((await debits(sub, rid, [debitItem('b1')])).items![0]).toMatchObject({ result: 'UNKNOWN_RESERVATION', settled: true });
      const all = await expectConserved(sub, 100);
      expect((await show(sub)).balance).toBe(100 - 3 * P);
      expect(all.filter((c) => c.type === 'debit' || c.type === 'direct-debit')).toHaveLength(3);
    });

    it('an unknown reservation answers each item UNKNOWN_RESERVATION, charging nothing', async () => {
      const sub = await account(100);
      const res = await debits(sub, 'no-such-reservation', [debitItem('c1'), debitItem('c2')]);
      expect(res.result).toBe('SUCCESS');
      expect(res.items!.map((r) => r.result)).toEqual(['UNKNOWN_RESERVATION', 'UNKNOWN_RESERVATION']);
      expect((await show(sub)).balance).toBe(100);
    });

    it('refuses a bad batch with INVALID_REQUEST naming each bad field, charging nothing', async () => {
      const sub = await account(100);
      const rid = await reserve(sub, ['v1', 'v2']);
      const send = (body: Record<string, unknown>) => ch2.debits({ ...common(sub), reservationId: rid, items: [debitItem('v1')], ...body } as never);
      const empty = await send({ items: [] });
      expect(empty).toMatchObject({ result: 'INVALID_REQUEST' });
      expect(empty.details).toEqual([expect.stringMatching(/^items: must be a non-empty array/)]);
      const twice = debitItem('v1');
      const bad = await send({
        reservationId: '',
        items: [{ ...twice, outcome: 'lost' }, { ...twice, itemId: 'v1', octets: -1 }, { requestId: 'short', itemId: 'v2', outcome: 'delivered', octets: 1, ratingGroup: '?' }, 'x'],
      });
      expect(bad.result).toBe('INVALID_REQUEST');
      expect(bad.details).toEqual([
        'reservationId: must be a string of 1–128 characters',
        'items[0].outcome: must be one of delivered, rejected, timeout',
        `items[1].requestId: duplicate requestId ${JSON.stringify(twice.requestId)}`,
        'items[1].itemId: duplicate itemId "v1"',
        'items[1].octets: must be a non-negative integer',
        'items[2].requestId: must be a string of 8–128 characters',
        expect.stringMatching(/^items\[2\]\.ratingGroup: must be a rating group name/),
        'items[3]: must be an object {requestId, itemId, outcome, octets}',
      ]);
      const same = await send({ requestId: 'dbs:same-as-item', items: [{ ...debitItem('v1'), requestId: 'dbs:same-as-item' }] });
      expect(same.details).toEqual(["items[0].requestId: must differ from the batch's requestId"]);
      expect(await show(sub)).toMatchObject({ balance: 100, reserved: 2 * P });
    });
  });
});
