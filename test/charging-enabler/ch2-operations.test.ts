/**
 * CH-2 over NATS, called exactly as the im-server calls it (Ch2Client), against a real enabler on real Redis/NATS:
 * every subject and every result code of spec/ch2-contract.md.
 */
import type { NatsConnection } from 'nats';
import { Ch2Client, Ch2NoRespondersError, Ch2ResultCode } from '@imc/ch2';
import type { RunningEnabler } from '../../apps/charging-enabler/src/bootstrap';
import { admin, ch2ClientFor, common, Namespace, startEnabler, subscriber, testNamespace } from '../support/enabler-harness';

const items = (n: number, octets = 100) => Array.from({ length: n }, (_, i) => ({ id: `m${i + 1}`, octets }));
// im.test: 10 per message + 2 per started KiB → a 100-octet item costs 12.
const P = 12;

describe('CH-2 operations', () => {
  let ns: Namespace;
  let enabler: RunningEnabler;
  let nc: NatsConnection;
  let ch2: Ch2Client;

  beforeAll(async () => {
    ns = testNamespace();
    enabler = await startEnabler(ns);
    ({ nc, ch2 } = await ch2ClientFor(ns));
  });
  afterAll(async () => {
    await nc.close();
    await enabler.close();
  });

  async function account(balance: number, currency = 'EUR', tag = 'user') {
    const sub = subscriber(tag);
    const r = await admin(enabler.httpPort, 'POST', '/v1/accounts', { subscriber: sub, balance, currency });
    expect(r.status).toBe(201);
    return sub;
  }
  const show = async (sub: string) => (await admin(enabler.httpPort, 'GET', `/v1/accounts/${encodeURIComponent(sub)}`)).json;

  it('reserve grants every item, debit takes the item price, release returns the rest', async () => {
    const sub = await account(100);
    const r = await ch2.reserve({ ...common(sub), items: items(3) });
    expect(r).toMatchObject({ result: 'SUCCESS', resultCode: 2001, grantedItems: ['m1', 'm2', 'm3'], reservedAmount: 3 * P, currency: 'EUR' });
    expect(Date.parse(r.expiresAt!)).toBeGreaterThan(Date.now());
    const d = await ch2.debit({ ...common(sub), reservationId: r.reservationId!, itemId: 'm1', outcome: 'delivered', octets: 100 });
    expect(d).toMatchObject({ result: 'SUCCESS', debitedAmount: P, remainingReserved: 2 * P });
    expect(d.cdrId).toMatch(/^s\d+-\d+-\d+$/);
    const rel = await ch2.release({ ...common(sub), reservationId: r.reservationId! });
    expect(rel).toMatchObject({ result: 'SUCCESS', releasedAmount: 2 * P });
    expect(await show(sub)).toMatchObject({ balance: 100 - P, reserved: 0, available: 100 - P });
  });

  it('a debit for fewer octets than reserved takes the lower price; never more than the hold', async () => {
    const sub = await account(100);
    const r = await ch2.reserve({ ...common(sub), items: [{ id: 'big', octets: 3000 }] }); // 10 + 3×2 = 16
    expect(r.reservedAmount).toBe(16);
    const d = await ch2.debit({ ...common(sub), reservationId: r.reservationId!, itemId: 'big', outcome: 'delivered', octets: 10 });
    expect(d.debitedAmount).toBe(12);
    const r2 = await ch2.reserve({ ...common(sub), items: [{ id: 'small', octets: 1 }] }); // 12
    const d2 = await ch2.debit({ ...common(sub), reservationId: r2.reservationId!, itemId: 'small', outcome: 'delivered', octets: 9000 });
    expect(d2.debitedAmount).toBe(12); // bounded by the reservation, not the 28 the octets would cost
    // a debit rated for another (cheaper) service than the reservation's is refused, nothing taken
    const r3 = await ch2.reserve({ ...common(sub), items: [{ id: 'z', octets: 1 }] });
    const cheap = await ch2.debit({ ...common(sub, 'im.free'), reservationId: r3.reservationId!, itemId: 'z', outcome: 'delivered', octets: 1 });
    expect(cheap).toMatchObject({ result: 'INVALID_REQUEST' });
    expect(cheap.details![0]).toMatch(/service: im.free differs/);
    await ch2.release({ ...common(sub), reservationId: r3.reservationId! });
    expect((await show(sub)).balance).toBe(100 - 12 - 12);
  });

  it('partial grant: the longest affordable prefix', async () => {
    const sub = await account(2 * P + 5);
    const r = await ch2.reserve({ ...common(sub), items: items(5) });
    expect(r).toMatchObject({ result: 'SUCCESS', grantedItems: ['m1', 'm2'], reservedAmount: 2 * P });
    expect(await show(sub)).toMatchObject({ reserved: 2 * P, available: 5 });
  });

  it('CREDIT_LIMIT_REACHED when not even the first item fits', async () => {
    const sub = await account(P - 1);
    const r = await ch2.reserve({ ...common(sub), items: items(2) });
    expect(r).toMatchObject({ result: 'CREDIT_LIMIT_REACHED', resultCode: 4012 });
    expect(r.message).toMatch(/cannot cover/);
    expect(await show(sub)).toMatchObject({ balance: P - 1, reserved: 0 });
  });

  it('USER_UNKNOWN, END_USER_SERVICE_DENIED, RATING_FAILED (service, currency), CREDIT_CONTROL_NOT_APPLICABLE', async () => {
    const ghost = await ch2.reserve({ ...common(subscriber('ghost')), items: items(1) });
    expect(ghost).toMatchObject({ result: 'USER_UNKNOWN', resultCode: 5030 });

    const sub = await account(100);
    expect((await admin(enabler.httpPort, 'PATCH', `/v1/accounts/${encodeURIComponent(sub)}`, { state: 'suspended' })).status).toBe(200);
    expect(await ch2.reserve({ ...common(sub), items: items(1) })).toMatchObject({ result: 'END_USER_SERVICE_DENIED', resultCode: 4010 });
    expect(await ch2.directDebit({ ...common(sub), items: items(1) })).toMatchObject({ result: 'END_USER_SERVICE_DENIED' });
    await admin(enabler.httpPort, 'PATCH', `/v1/accounts/${encodeURIComponent(sub)}`, { state: 'active' });

    expect(await ch2.reserve({ ...common(sub, 'im.nope'), items: items(1) })).toMatchObject({ result: 'RATING_FAILED', resultCode: 5031 });
    const usd = await ch2.reserve({ ...common(sub, 'im.usd'), items: items(1) });
    expect(usd).toMatchObject({ result: 'RATING_FAILED' });
    expect(usd.message).toMatch(/USD.*EUR/);
    expect(await ch2.reserve({ ...common(sub, 'im.free'), items: items(3) })).toMatchObject({ result: 'CREDIT_CONTROL_NOT_APPLICABLE', resultCode: 4011 });
    expect(await show(sub)).toMatchObject({ balance: 100, reserved: 0 });
  });

  it('per-account tariff override makes the service free for that subscriber', async () => {
    const r = await admin(enabler.httpPort, 'POST', '/v1/accounts', { subscriber: 'sip:vip@EXAMPLE.com', balance: 0, currency: 'EUR' });
    expect([201, 409]).toContain(r.status);
    const res = await ch2.reserve({ ...common('sip:vip@example.com', 'im.deferred-retrieval'), items: items(2) });
    expect(res.result).toBe('CREDIT_CONTROL_NOT_APPLICABLE');
  });

  it('UNKNOWN_RESERVATION: debit after release, an item not reserved, a second debit of one item', async () => {
    const sub = await account(100);
    const r = await ch2.reserve({ ...common(sub), items: items(2) });
    const first = await ch2.debit({ ...common(sub), reservationId: r.reservationId!, itemId: 'm1', outcome: 'delivered', octets: 100 });
    expect(first.result).toBe('SUCCESS');
    const again = await ch2.debit({ ...common(sub), reservationId: r.reservationId!, itemId: 'm1', outcome: 'delivered', octets: 100 });
    expect(again).toMatchObject({ result: 'UNKNOWN_RESERVATION', resultCode: 5002 });
    expect(again.message).toMatch(/already debited/);
    const stranger = await ch2.debit({ ...common(sub), reservationId: r.reservationId!, itemId: 'm9', outcome: 'delivered', octets: 1 });
    expect(stranger.result).toBe('UNKNOWN_RESERVATION');
    await ch2.release({ ...common(sub), reservationId: r.reservationId! });
    const late = await ch2.debit({ ...common(sub), reservationId: r.reservationId!, itemId: 'm2', outcome: 'delivered', octets: 100 });
    expect(late.result).toBe('UNKNOWN_RESERVATION');
    expect(await ch2.release({ ...common(sub), reservationId: r.reservationId! })).toMatchObject({ result: 'UNKNOWN_RESERVATION' });
    // another subscriber cannot touch this reservation either
    const other = await account(100);
    const r2 = await ch2.reserve({ ...common(sub), items: items(1) });
    expect((await ch2.debit({ ...common(other), reservationId: r2.reservationId!, itemId: 'm1', outcome: 'delivered', octets: 1 })).result).toBe(
      'UNKNOWN_RESERVATION',
    );
    expect(await show(sub)).toMatchObject({ balance: 100 - P, reserved: P });
  });

  it('direct debit is all or nothing; refund is bounded by the charge', async () => {
    const sub = await account(50);
    expect(await ch2.directDebit({ ...common(sub), items: items(5) })).toMatchObject({ result: 'CREDIT_LIMIT_REACHED' });
    const dd = await ch2.directDebit({ ...common(sub), items: items(2) });
    expect(dd).toMatchObject({ result: 'SUCCESS', debitedAmount: 2 * P });
    const part = await ch2.refund({ ...common(sub), cdrId: dd.cdrId!, amount: 5 });
    expect(part).toMatchObject({ result: 'SUCCESS', refundedAmount: 5 });
    const over = await ch2.refund({ ...common(sub), cdrId: dd.cdrId!, amount: 2 * P });
    expect(over).toMatchObject({ result: 'INVALID_REQUEST', resultCode: 5004 });
    expect(over.details!.join()).toMatch(/amount/);
    const rest = await ch2.refund({ ...common(sub), cdrId: dd.cdrId! });
    expect(rest).toMatchObject({ result: 'SUCCESS', refundedAmount: 2 * P - 5 });
    expect((await ch2.refund({ ...common(sub), cdrId: 's0-1-0' })).result).toBe('UNKNOWN_RESERVATION');
    expect(await show(sub)).toMatchObject({ balance: 50, totals: { debits: 2 * P, refunds: 2 * P, topUps: 0 } });
  });

  it('balance and price change nothing', async () => {
    const sub = await account(30);
    await ch2.reserve({ ...common(sub), items: items(1) });
    expect(await ch2.balance({ ...common(sub), items: items(2) })).toMatchObject({
      result: 'SUCCESS',
      balance: 30,
      reserved: P,
      available: 30 - P,
      currency: 'EUR',
      enoughCredit: false,
    });
    expect((await ch2.balance({ ...common(sub), items: items(1) })).enoughCredit).toBe(true);
    expect(await ch2.price({ ...common(sub), items: [{ id: 'a', octets: 0 }, { id: 'b', octets: 2049 }] })).toMatchObject({
      result: 'SUCCESS',
      amount: 10 + 16,
      currency: 'EUR',
    });
    expect((await ch2.balance({ ...common(subscriber('ghost')) })).result).toBe('USER_UNKNOWN');
    expect(await show(sub)).toMatchObject({ balance: 30, reserved: P });
  });

  it('INVALID_REQUEST names every bad field, for every subject', async () => {
    const bad = await ch2.reserve({ subscriber: 'bob', items: 'x' } as never);
    expect(bad).toMatchObject({ result: 'INVALID_REQUEST', resultCode: Ch2ResultCode.INVALID_REQUEST });
    const fields = bad.details!.map((d) => d.split(':')[0]);
    expect(fields).toEqual(expect.arrayContaining(['requestId', 'subscriber', 'service', 'timestamp', 'items']));
    const sub = subscriber();
    const d = await ch2.debit({ ...common(sub), reservationId: '', itemId: 'x', outcome: 'lost', octets: -1 } as never);
    expect(d.details!.map((x) => x.split(':')[0])).toEqual(['reservationId', 'outcome', 'octets']);
    const dup = await ch2.price({ ...common(sub), items: [{ id: 'a', octets: 1 }, { id: 'a', octets: 2 }] });
    expect(dup.details![0]).toMatch(/items\[1\]\.id: duplicate/);
    for (const op of ['release', 'direct-debit', 'refund', 'balance', 'price'] as const) {
      const r = await ch2.call(op, { requestId: 'short' } as never);
      expect(r.result).toBe('INVALID_REQUEST');
      expect(r.details!.some((x) => x.startsWith('requestId'))).toBe(true);
    }
  });

  it('a stored answer goes out in the Nest envelope byte for byte, and /metrics counts it under its result', async () => {
    const count = async (result: string) => {
      const text = await (await fetch(`http://127.0.0.1:${enabler.httpPort}/metrics`)).text();
      return Number(new RegExp(`^ch2_requests_total\\{subject="ch2.reserve",result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    };
    const [ok0, limit0] = [await count('SUCCESS'), await count('CREDIT_LIMIT_REACHED')];
    const sub = await account(5); // one item costs 12: not even the first fits
    const req = { ...common(sub), items: items(1) };
    const raw = await nc.request(`${ns.env.NATS_SUBJECT_PREFIX}ch2.reserve`, new TextEncoder().encode(JSON.stringify({ pattern: 'ch2.reserve', data: req, id: 'env-7' })));
    const text = new TextDecoder().decode(raw.data);
    const env = JSON.parse(text);
    expect(env).toMatchObject({ err: null, isDisposed: true, id: 'env-7', response: { requestId: req.requestId, result: 'CREDIT_LIMIT_REACHED', resultCode: 4012 } });
    // the replay is answered from the stored text: the same response, byte for byte
    const again = new TextDecoder().decode((await nc.request(`${ns.env.NATS_SUBJECT_PREFIX}ch2.reserve`, new TextEncoder().encode(JSON.stringify({ pattern: 'ch2.reserve', data: req, id: 'env-7' })))).data);
    expect(again).toBe(text);
    await admin(enabler.httpPort, 'POST', `/v1/accounts/${encodeURIComponent(sub)}/top-ups`, { amount: 100, requestId: `top-${req.requestId}` });
    expect(await ch2.reserve({ ...common(sub), items: items(1) })).toMatchObject({ result: 'SUCCESS' });
    expect(await count('CREDIT_LIMIT_REACHED')).toBe(limit0 + 2);
    expect(await count('SUCCESS')).toBe(ok0 + 1);
  });

  it('a non-JSON-object payload is answered, not dropped', async () => {
    const r = await ch2.call('reserve', 42 as never);
    expect(r).toMatchObject({ result: 'INVALID_REQUEST' });
  });

  it('TOO_BUSY when the credit ledger cannot be reached; no responders when no enabler listens', async () => {
    const { startRedis } = await import('@imc/runtime');
    const redis = await startRedis();
    const ns2 = testNamespace({ REDIS_URL: redis.url });
    const e2 = await startEnabler(ns2);
    const c2 = await ch2ClientFor(ns2);
    try {
      const sub = subscriber();
      await admin(e2.httpPort, 'POST', '/v1/accounts', { subscriber: sub, balance: 100, currency: 'EUR' });
      await redis.stop();
      const r = await c2.ch2.reserve({ ...common(sub), items: items(1) });
      expect(r).toMatchObject({ result: 'TOO_BUSY', resultCode: 3004 });
      expect((await fetch(`http://127.0.0.1:${e2.httpPort}/health/ready`)).status).toBe(503);
    } finally {
      await c2.nc.close();
      await e2.close();
    }
    const nobody = new Ch2Client(nc, { subjectPrefix: 'nobody.', timeoutMs: 500 });
    await expect(nobody.reserve({ ...common(subscriber()), items: items(1) })).rejects.toBeInstanceOf(Ch2NoRespondersError);
  });
});
