/**
 * CDR retention (CDR_RETENTION_DAYS): the outbox keeps a CDR only for the retention period once JetStream has it;
 * a trim (one Lua script per shard) folds what leaves into per-account opening figures, so the billing report —
 * rows read back from JetStream for trimmed periods, reconciliation from the opening figures — has the same numbers
 * before and after. The trim runs on a fake clock: `trim(now)` with `now` past the retention.
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from 'nats';
import type { Ch2Client } from '@imc/ch2';
import type { RunningEnabler } from '../../apps/charging-enabler/src/bootstrap';
import { CdrRetention, DAY_MS } from '../../apps/charging-enabler/src/cdr/cdr-retention';
import { loadEnablerConfig } from '../../apps/charging-enabler/src/config';
import { admin, ch2ClientFor, common, Namespace, startEnabler, subscriber, testNamespace, waitFor } from '../support/enabler-harness';

const RETENTION_MS = 45 * DAY_MS;
const MARK_MS = 400 * DAY_MS;

describe('CDR retention', () => {
  let ns: Namespace;
  let e: RunningEnabler;
  let nc: NatsConnection;
  let ch2: Ch2Client;
  let retention: CdrRetention;
  const subs: string[] = [];

  beforeAll(async () => {
    ns = testNamespace();
    e = await startEnabler(ns);
    ({ nc, ch2 } = await ch2ClientFor(ns, { timeoutMs: 5000 }));
    retention = new CdrRetention(e.redis, e.ledger.keys, RETENTION_MS, MARK_MS, 7); // small batches: a shard takes several calls
  });
  afterAll(async () => {
    await nc?.close();
    await e?.close();
  });

  const keys = () => e.ledger.keys;
  const outboxLength = async () => {
    let n = 0;
    for (let s = 0; s < keys().shards; s++) n += await e.redis.xlen(keys().outbox(s));
    return n;
  };
  /** Every shard's relay position is its last outbox entry: JetStream has every CDR. */
  const relayed = () =>
    waitFor(async () => {
      for (let s = 0; s < keys().shards; s++) {
        const last = (await e.redis.xrevrange(keys().outbox(s), '+', '-', 'COUNT', 1)) as [string, string[]][];
        if (last.length && (await e.redis.get(keys().relayPosition(s))) !== last[0][0]) return false;
      }
      return true;
    }, 'the relay to publish every CDR', 15000);
  /** The charge-once marks of the given accounts, over every shard. */
  const marksOf = async (accounts: string[]) => {
    let n = 0;
    for (let s = 0; s < keys().shards; s++) {
      const fields = await e.redis.hkeys(keys().chargedMessages(s));
      n += fields.filter((f) => accounts.includes(f.split('\n')[0])).length;
    }
    return n;
  };
  const report = async (q = '') => {
    const r = await admin(e.httpPort, 'GET', `/v1/reports/billing${q}`);
    expect(r.status).toBe(200);
    const { generatedAt, ...rest } = r.json;
    expect(typeof generatedAt).toBe('string');
    // only this test's accounts (the suite's Redis holds other tests' namespaces too, but keys are prefixed)
    return rest;
  };

  /** Every kind of CDR (top-up, direct-debit, debit, release, refund) for each of `n` accounts. */
  async function traffic(n: number): Promise<string[]> {
    const cdrIds: string[] = [];
    for (let i = 0; i < n; i++) {
      const sub = subscriber('ret');
      subs.push(sub);
      expect((await admin(e.httpPort, 'POST', '/v1/accounts', { subscriber: sub, balance: 1000, currency: 'EUR' })).status).toBe(201);
      const t = await admin(e.httpPort, 'POST', `/v1/accounts/${encodeURIComponent(sub)}/top-ups`, { amount: 250 + i, requestId: randomUUID() });
      expect(t.status).toBe(201);
      const dd = await ch2.directDebit({ ...common(sub), items: [{ id: 'd1', octets: 1500 }] });
      expect(dd.result).toBe('SUCCESS');
      const r = await ch2.reserve({ ...common(sub), items: [{ id: 'a', octets: 10 }, { id: 'b', octets: 10 }] });
      expect(r.result).toBe('SUCCESS');
      const d = await ch2.debit({ ...common(sub), reservationId: r.reservationId!, itemId: 'a', outcome: 'delivered', octets: 10 });
      expect(d.result).toBe('SUCCESS');
      expect((await ch2.release({ ...common(sub), reservationId: r.reservationId! })).result).toBe('SUCCESS');
      const rf = await ch2.refund({ ...common(sub), cdrId: dd.cdrId!, amount: 3 });
      expect(rf.result).toBe('SUCCESS');
      cdrIds.push(dd.cdrId!, d.cdrId!);
    }
    return cdrIds;
  }

  it('validates CDR_RETENTION_DAYS (default 45) in the typed config', () => {
    expect(loadEnablerConfig(ns.env).cdrRetentionDays).toBe(45);
    expect(loadEnablerConfig({ ...ns.env, CDR_RETENTION_DAYS: '31' }).cdrRetentionDays).toBe(31);
    expect(() => loadEnablerConfig({ ...ns.env, CDR_RETENTION_DAYS: '0' })).toThrow(/CDR_RETENTION_DAYS/);
    expect(() => loadEnablerConfig({ ...ns.env, CDR_RETENTION_DAYS: '1.5' })).toThrow(/CDR_RETENTION_DAYS/);
    // the charge-once marks must outlive any stored message (the im-server keeps one at most 365 days)
    expect(loadEnablerConfig(ns.env).chargeOnceDays).toBe(400);
    expect(() => loadEnablerConfig({ ...ns.env, CHARGE_ONCE_DAYS: '30' })).toThrow(/CHARGE_ONCE_DAYS/);
  });

  it('trims only what is past retention and relayed, and the report does not change', async () => {
    const first = await traffic(4);
    await relayed();
    const middle = Date.now();
    await waitFor(() => Date.now() > middle, 'the clock to move past the first half');
    const second = await traffic(4);
    await relayed();

    const everything = await report();
    const firstHalf = await report(`?to=${middle}`);
    const secondHalf = await report(`?from=${middle + 1}`);
    expect(everything.balanced).toBe(true);
    expect(everything.reconciliation.filter((x: { subscriber: string }) => subs.includes(x.subscriber))).toHaveLength(8);
    const cdrCount = await outboxLength();
    expect(cdrCount).toBe(8 * 5);

    // nothing is past retention yet
    expect(await retention.trim(Date.now())).toBe(0);
    // each account has two charged messages (its direct debit's and its debit's), each with its charge-once mark
    expect(await marksOf(subs.slice(0, 4))).toBe(4 * 2);
    expect(await marksOf(subs.slice(4, 8))).toBe(4 * 2);

    // the fake clock reaches retention for the first half only
    expect(await retention.trim(middle + RETENTION_MS)).toBe(4 * 5);
    expect(await outboxLength()).toBe(4 * 5);
    expect(await report()).toEqual(everything);
    expect(await report(`?to=${middle}`)).toEqual(firstHalf);
    expect(await report(`?from=${middle + 1}`)).toEqual(secondHalf);
    // the charge-once marks outlive the CDRs (a stored message may still be delivered again): none swept yet
    expect(await retention.sweepMarks(middle + RETENTION_MS)).toBe(0);
    expect(await marksOf(subs)).toBe(8 * 2);
    // past CHARGE_ONCE_DAYS for the first half only: its marks go (nothing grows without bound), the second half's stay
    expect(await retention.sweepMarks(middle + MARK_MS)).toBe(4 * 2);
    expect(await marksOf(subs.slice(0, 4))).toBe(0);
    expect(await marksOf(subs.slice(4, 8))).toBe(4 * 2);
    // the trimmed charges left the refund index: they can no longer be refunded through CH-2
    const refund = await ch2.refund({ ...common(subs[0]), cdrId: first[0], amount: 1 });
    expect(refund.result).toBe('UNKNOWN_RESERVATION');
    const stillRefundable = await ch2.refund({ ...common(subs[4]), cdrId: second[0], amount: 1 });
    expect(stillRefundable.result).toBe('SUCCESS');
    await relayed();
    const afterRefund = await report();
    expect(afterRefund.balanced).toBe(true);

    // a CDR the relay has not published stays, whatever its age
    await e.relay.stop();
    const sub = subs[5];
    expect((await ch2.directDebit({ ...common(sub), items: [{ id: 'late', octets: 1 }] })).result).toBe('SUCCESS');
    const unpublished = await report();
    expect(await retention.trim(Date.now() + 10 * RETENTION_MS)).toBe(4 * 5 + 1);
    expect(await outboxLength()).toBe(1);
    expect(await report()).toEqual(unpublished);
    // the first half's rows are still those of its CDRs (its reconciliation is over each account's life: it moved)
    const { reconciliation: _r, balanced: _b, ...firstRows } = firstHalf;
    const { reconciliation: _r2, balanced, ...nowRows } = await report(`?to=${middle}`);
    expect(nowRows).toEqual(firstRows);
    expect(balanced).toBe(true);

    // the opening figures carry each account's trimmed totals exactly
    const opening = await e.cdrs.openings();
    const o = opening.get(subs[0])!;
    expect(o).toEqual({ topUps: 250, refunds: 3, debits: 10 + 2 * 2 + 10 + 2 }); // direct debit 10 + 2 KiB × 2; debit 10 + 1 KiB × 2
  });
});
