/**
 * The enabler's guarantees (spec/ch2-contract.md "Guarantees the enabler gives"): idempotency, atomicity across two
 * replicas, conservation checked against the CDRs, expiring reservations, notifications once per crossing.
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection, Subscription } from 'nats';
import type { Ch2Client, Cdr } from '@imc/ch2';
import type { RunningEnabler } from '../../apps/charging-enabler/src/bootstrap';
import { admin, common, Namespace, startTwoReplicas, subscriber, TwoReplicas, waitFor } from '../support/enabler-harness';

const P = 12; // im.test, 100-octet item
const item = (id: string) => ({ id, octets: 100 });

async function allCdrs(e: RunningEnabler, sub: string): Promise<Cdr[]> {
  const out: Cdr[] = [];
  let cursor: string | undefined;
  do {
    const page = await e.cdrs.list({ subscriber: sub, limit: 1000, cursor });
    out.push(...page.cdrs);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/** initial + top-ups + refunds − debits = balance, from the account totals and again from the CDRs. */
async function expectConservation(e: RunningEnabler, sub: string, initial: number) {
  const acct = (await admin(e.httpPort, 'GET', `/v1/accounts/${encodeURIComponent(sub)}`)).json;
  expect(acct.initial).toBe(initial);
  expect(initial + acct.totals.topUps + acct.totals.refunds - acct.totals.debits).toBe(acct.balance);
  const cdrs = await allCdrs(e, sub);
  const sum = (t: string) => cdrs.filter((c) => c.type === t).reduce((s, c) => s + c.amount, 0);
  expect(sum('top-up')).toBe(acct.totals.topUps);
  expect(sum('refund')).toBe(acct.totals.refunds);
  expect(sum('debit') + sum('direct-debit')).toBe(acct.totals.debits);
  expect(initial + sum('top-up') + sum('refund') - sum('debit') - sum('direct-debit')).toBe(acct.balance);
  expect(acct.available).toBeGreaterThanOrEqual(0);
  return { acct, cdrs };
}

describe('ledger guarantees', () => {
  let replicas: TwoReplicas;
  let ns: Namespace;
  let a: RunningEnabler;
  let b: RunningEnabler;
  let nc: NatsConnection;
  let ch2: Ch2Client;

  beforeAll(async () => {
    replicas = await startTwoReplicas(); // two replicas, one queue group, one ledger
    ({ ns, a, b, nc, ch2 } = replicas);
  });
  afterAll(() => replicas.close());

  async function account(balance: number, extra: Record<string, unknown> = {}) {
    const sub = subscriber();
    expect((await admin(a.httpPort, 'POST', '/v1/accounts', { subscriber: sub, balance, currency: 'EUR', ...extra })).status).toBe(201);
    return sub;
  }

  it('every mutating subject replayed with the same requestId returns the first answer and changes nothing', async () => {
    const sub = await account(1000);
    const rq = { ...common(sub), items: [item('m1'), item('m2')] };
    const r1 = await ch2.reserve(rq);
    expect(await ch2.reserve(rq)).toEqual(r1);
    const dq = { ...common(sub), reservationId: r1.reservationId!, itemId: 'm1', outcome: 'delivered' as const, octets: 100 };
    const d1 = await ch2.debit(dq);
    expect(await ch2.debit(dq)).toEqual(d1);
    const lq = { ...common(sub), reservationId: r1.reservationId! };
    const l1 = await ch2.release(lq);
    expect(await ch2.release(lq)).toEqual(l1);
    const ddq = { ...common(sub), items: [item('x')] };
    const dd1 = await ch2.directDebit(ddq);
    expect(await ch2.directDebit(ddq)).toEqual(dd1);
    const fq = { ...common(sub), cdrId: dd1.cdrId!, amount: 2 };
    const f1 = await ch2.refund(fq);
    expect(await ch2.refund(fq)).toEqual(f1);
    const topReq = { amount: 50, requestId: randomUUID() };
    const t1 = await admin(a.httpPort, 'POST', `/v1/accounts/${encodeURIComponent(sub)}/top-ups`, topReq);
    const t2 = await admin(b.httpPort, 'POST', `/v1/accounts/${encodeURIComponent(sub)}/top-ups`, topReq);
    expect(t1.status).toBe(201);
    expect(t2.json).toEqual(t1.json);
    const { acct } = await expectConservation(a, sub, 1000);
    expect(acct.balance).toBe(1000 - P - P + 2 + 50);
    expect(acct.reserved).toBe(0);
  });

  it('thousands of concurrent reserves and debits from two replicas never overdraw and conserve credit', async () => {
    const initial = 100 * P + 7; // room for exactly 100 items
    const sub = await account(initial);
    const N = 1500;
    const results = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const r = await ch2.reserve({ ...common(sub), items: [item(`m${i}`)] });
        if (r.result !== 'SUCCESS') return { r };
        const d =
          i % 3 === 0
            ? undefined // left to release
            : await ch2.debit({ ...common(sub), reservationId: r.reservationId!, itemId: `m${i}`, outcome: 'delivered', octets: 100 });
        const l = await ch2.release({ ...common(sub), reservationId: r.reservationId! });
        return { r, d, l };
      }),
    );
    const granted = results.filter((x) => x.r.result === 'SUCCESS');
    const refused = results.filter((x) => x.r.result === 'CREDIT_LIMIT_REACHED');
    expect(granted.length + refused.length).toBe(N);
    const debited = granted.filter((x) => x.d?.result === 'SUCCESS').length;
    expect(debited * P).toBeLessThanOrEqual(initial);
    const { acct, cdrs } = await expectConservation(a, sub, initial);
    expect(acct.balance).toBe(initial - debited * P);
    expect(acct.reserved).toBe(0);
    expect(granted.filter((x) => x.l?.result !== 'SUCCESS').map((x) => [x.l, x.d])).toEqual([]);
    expect(cdrs.filter((c) => c.type === 'release').length).toBe(granted.length);
    // both replicas did work
    const text = async (e: RunningEnabler) => (await fetch(`http://127.0.0.1:${e.httpPort}/metrics`)).text();
    for (const e of [a, b]) expect(await text(e)).toMatch(/ch2_requests_total\{subject="ch2.reserve",result="[A-Z_]+"\} [1-9]/);
  });

  it('a duplicate debit of one item with a new requestId does not charge twice, even when raced', async () => {
    const sub = await account(100);
    const r = await ch2.reserve({ ...common(sub), items: [item('m1')] });
    const tries = await Promise.all(
      Array.from({ length: 20 }, () => ch2.debit({ ...common(sub), reservationId: r.reservationId!, itemId: 'm1', outcome: 'delivered', octets: 100 })),
    );
    expect(tries.filter((t) => t.result === 'SUCCESS')).toHaveLength(1);
    expect((await expectConservation(a, sub, 100)).acct.balance).toBe(100 - P);
  });

  it('an expired reservation returns its hold and writes an expire CDR, once', async () => {
    const sub = await account(100);
    const r = await ch2.reserve({ ...common(sub), items: [item('m1'), item('m2')], validitySeconds: 1 });
    expect(r.validitySeconds).toBe(1);
    const cdrs = await waitFor(async () => {
      const c = (await allCdrs(a, sub)).filter((x) => x.type === 'expire');
      return c.length ? c : undefined;
    }, 'the expire CDR', 5000, 50);
    expect(cdrs).toHaveLength(1);
    expect(cdrs[0]).toMatchObject({ amount: 2 * P, reservationId: r.reservationId, balanceAfter: 100 });
    const d = await ch2.debit({ ...common(sub), reservationId: r.reservationId!, itemId: 'm1', outcome: 'delivered', octets: 100 });
    expect(d.result).toBe('UNKNOWN_RESERVATION');
    expect((await expectConservation(a, sub, 100)).acct).toMatchObject({ reserved: 0, balance: 100 });
  });

  describe('notifications', () => {
    let subs: Subscription;
    const seen: Record<string, unknown>[] = [];
    beforeAll(() => {
      subs = nc.subscribe(`${ns.env.NATS_SUBJECT_PREFIX}ch2.notify.>`, {
        callback: (_e, m) => seen.push({ subject: m.subject, ...(JSON.parse(new TextDecoder().decode(m.data)) as object) }),
      });
    });
    afterAll(() => subs.unsubscribe());

    it('out-of-credit once, credit-reallocated after a top-up, low-balance threshold once per crossing', async () => {
      const sub = await account(2 * P, { lowBalanceThreshold: 20 });
      const mine = () => seen.filter((s) => s.subscriber === sub);
      const dd = await ch2.directDebit({ ...common(sub), items: [item('a')] }); // balance 12 < 20: threshold
      expect(dd.result).toBe('SUCCESS');
      await ch2.directDebit({ ...common(sub), items: [item('b')] }); // balance 0: out of credit
      for (let i = 0; i < 3; i++) expect((await ch2.reserve({ ...common(sub), items: [item('c')] })).result).toBe('CREDIT_LIMIT_REACHED');
      await waitFor(() => mine().length >= 2, 'two notifications');
      await admin(a.httpPort, 'POST', `/v1/accounts/${encodeURIComponent(sub)}/top-ups`, { amount: 100, requestId: randomUUID() });
      await waitFor(() => mine().some((s) => s.event === 'credit-reallocated'), 'credit-reallocated');
      await ch2.directDebit({ ...common(sub), items: Array.from({ length: 7 }, (_, i) => item(`d${i}`)) }); // 100 → 16: crosses 20 again, still affords a unit
      await waitFor(() => mine().filter((s) => s.event === 'threshold').length >= 2, 'second threshold crossing');
      // a round trip on the same connection flushes anything still in flight before counting
      await nc.flush();
      const events = mine().map((s) => `${s.event}${s.threshold ? `:${s.threshold}` : ''}`);
      expect(events).toEqual(['threshold:low-balance', 'out-of-credit', 'credit-reallocated', 'threshold:low-balance']);
      expect(mine()[1]).toMatchObject({ subject: `${ns.env.NATS_SUBJECT_PREFIX}ch2.notify.out-of-credit`, service: 'im.test' });
    });

    it('usage thresholds per day fire once when crossed', async () => {
      const sub = await account(1000, { usageThresholds: { count: 3 } });
      for (let i = 0; i < 5; i++) await ch2.directDebit({ ...common(sub), items: [item(`u${i}`)] });
      await nc.flush();
      await waitFor(() => seen.some((s) => s.subscriber === sub), 'usage threshold');
      const t = seen.filter((s) => s.subscriber === sub);
      expect(t).toHaveLength(1);
      expect(t[0]).toMatchObject({ event: 'threshold', threshold: 'usage-count', level: 3, value: 3 });
    });

    it('the octets threshold counts a direct debit of several items and a reserved debit alike, once', async () => {
      const sub = await account(1000, { usageThresholds: { octets: 2500 } });
      await ch2.directDebit({ ...common(sub), items: [{ id: 'o1', octets: 1000 }, { id: 'o2', octets: 1000 }] }); // 2000
      const r = await ch2.reserve({ ...common(sub), items: [{ id: 'o3', octets: 600 }, { id: 'o4', octets: 600 }] });
      await ch2.debit({ ...common(sub), reservationId: r.reservationId!, itemId: 'o3', outcome: 'delivered', octets: 600 }); // 2600: crossed
      await ch2.debit({ ...common(sub), reservationId: r.reservationId!, itemId: 'o4', outcome: 'delivered', octets: 600 }); // 3200
      await nc.flush();
      await waitFor(() => seen.some((s) => s.subscriber === sub), 'octets threshold');
      await nc.flush();
      const t = seen.filter((s) => s.subscriber === sub);
      expect(t).toHaveLength(1);
      expect(t[0]).toMatchObject({ event: 'threshold', threshold: 'usage-octets', level: 2500, value: 2600 });
    });
  });

  it('admin HTTP: bearer token required, 409 on a second create, 404 for unknown, validation names fields', async () => {
    expect((await admin(a.httpPort, 'GET', '/v1/accounts/sip%3Ax%40example.com', undefined, 'wrong')).status).toBe(401);
    expect((await admin(a.httpPort, 'GET', `/v1/accounts/${encodeURIComponent(subscriber())}`)).status).toBe(404);
    const sub = await account(5);
    expect((await admin(a.httpPort, 'POST', '/v1/accounts', { subscriber: sub, balance: 5, currency: 'EUR' })).status).toBe(409);
    const bad = await admin(a.httpPort, 'POST', '/v1/accounts', { subscriber: 'bob', balance: 1.5, currency: 'euro' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toMatch(/subscriber.*balance.*currency/);
    const top = await admin(a.httpPort, 'POST', `/v1/accounts/${encodeURIComponent(sub)}/top-ups`, { amount: -1 });
    expect(top.status).toBe(400);
    expect(JSON.stringify(top.json)).toMatch(/amount.*requestId/);
    expect((await fetch(`http://127.0.0.1:${a.httpPort}/docs-json`)).status).toBe(200);
    const tariffs = await admin(a.httpPort, 'GET', '/v1/tariffs');
    expect(tariffs.json.tariffs.map((t: { service: string }) => t.service)).toContain('im.windowed');
    const cdrs = await admin(a.httpPort, 'GET', `/v1/cdrs?subscriber=${encodeURIComponent(sub)}&type=bogus`);
    expect(cdrs.status).toBe(400);
  });
});
