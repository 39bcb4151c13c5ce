/**
 * The im-server's charging gateway against an enabler that answers TOO_BUSY (what the Charging Enabler says when
 * it sheds load or its ledger is unreachable): debits, releases and refunds are not dropped but put in the durable
 * retry queue, and re-sent with the same requestId once the enabler answers.
 */
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { connect, NatsConnection } from 'nats';
import { Ch2Client, ch2Subject } from '@imc/ch2';
import { ChargingGateway } from '../../apps/im-server/src/charging/charging-gateway';
import { ChargingRetryQueue, needsDirectDebit } from '../../apps/im-server/src/charging/charging-retry-queue';

const enc = new TextEncoder();
const dec = new TextDecoder();

describe('ChargingGateway with a TOO_BUSY enabler', () => {
  let nc: NatsConnection;
  let redis: Redis;
  const id = randomBytes(4).toString('hex');
  const prefix = `gw${id}.`;
  let busy = true;
  const seen: { subject: string; requestId: string }[] = [];

  beforeAll(async () => {
    nc = await connect({ servers: process.env.NATS_URL });
    redis = new Redis(process.env.REDIS_URL!);
    // a scripted enabler speaking the Nest NATS envelope: TOO_BUSY while `busy`, SUCCESS afterwards
    for (const op of ['debit', 'debits', 'release', 'refund'] as const) {
      nc.subscribe(ch2Subject(op, prefix), {
        callback: (_e, m) => {
          const env = JSON.parse(dec.decode(m.data)) as { id: string; data: { requestId: string; items?: { requestId: string; itemId: string }[] } };
          seen.push({ subject: op, requestId: env.data.requestId });
          const items = env.data.items?.map((i) => ({ requestId: i.requestId, result: 'SUCCESS', resultCode: 2001, cdrId: `c-${i.itemId}`, debitedAmount: 6 }));
          const response = busy
            ? { requestId: env.data.requestId, result: 'TOO_BUSY', resultCode: 3004 }
            : { requestId: env.data.requestId, result: 'SUCCESS', resultCode: 2001, ...(op === 'debit' ? { cdrId: 'c1', debitedAmount: 6 } : {}), ...(op === 'debits' ? { items } : {}) };
          m.respond(enc.encode(JSON.stringify({ err: null, response, isDisposed: true, id: env.id })));
        },
      });
    }
    await nc.flush();
  });
  afterAll(async () => {
    const keys = await redis.keys(`gw${id}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await nc.close();
  });

  it('queues debit, release and refund answered TOO_BUSY, and re-sends each with its requestId until answered', async () => {
    const ch2 = new Ch2Client(nc, { subjectPrefix: prefix, timeoutMs: 1000, retries: 0 });
    const queue = new ChargingRetryQueue(redis, `gw${id}:`, ch2, 50);
    const gw = new ChargingGateway(ch2, queue, 'im.deferred-retrieval', 120);
    const sub = 'sip:bob@example.com';
    expect(await gw.debit(sub, 's1', 'r1', 'm1', 'delivered', 10, true)).toEqual({ kind: 'queued' });
    expect(await gw.release(sub, 's1', 'r1')).toEqual({ kind: 'queued' });
    expect(await gw.refund(sub, 's1', 'cdr-9')).toEqual({ kind: 'queued' });
    expect(await queue.depth()).toBe(3);
    expect(await queue.drain(Date.now() + 1000)).toBe(0); // still busy: nothing answered, nothing lost
    expect(await queue.depth()).toBe(3);
    busy = false;
    let answered = 0;
    for (let i = 0; i < 5 && answered < 3; i++) answered += await queue.drain(Date.now() + 1000);
    expect(answered).toBe(3);
    expect(await queue.depth()).toBe(0);
    // every re-send carried the first requestId
    const ids = (op: string) => new Set(seen.filter((x) => x.subject === op).map((x) => x.requestId));
    expect(ids('debit')).toEqual(new Set(['dbt:r1:m1']));
    expect(ids('release')).toEqual(new Set(['rel:r1']));
    expect(ids('refund')).toEqual(new Set(['rfd:cdr-9']));
    // causal order: the release was sent only after the reservation's debit was answered
    const order = seen.filter((x) => !x.requestId.startsWith('rfd:')).map((x) => x.subject);
    expect(order.lastIndexOf('debit')).toBeLessThan(order.indexOf('release'));
  });

  it('a release never overtakes a queued debit of its reservation, even when the enabler answers it at once', async () => {
    seen.length = 0;
    busy = true;
    const ch2 = new Ch2Client(nc, { subjectPrefix: prefix, timeoutMs: 1000, retries: 0 });
    const queue = new ChargingRetryQueue(redis, `gw${id}:o:`, ch2, 50);
    const gw = new ChargingGateway(ch2, queue, 'im.deferred-retrieval', 120);
    const sub = 'sip:carol@example.com';
    expect(await gw.debit(sub, 's2', 'r2', 'm1', 'delivered', 10, true)).toEqual({ kind: 'queued' });
    expect(await gw.debit(sub, 's2', 'r2', 'm2', 'delivered', 10, true)).toEqual({ kind: 'queued' });
    busy = false; // the enabler is back before the session ends: the release must still wait for the queued debits
    expect(await gw.release(sub, 's2', 'r2')).toEqual({ kind: 'queued' });
    expect(seen.filter((x) => x.subject === 'release')).toHaveLength(0);
    // another reservation's release is not held back
    expect(await gw.release(sub, 's3', 'r3')).toMatchObject({ kind: 'answer' });
    let answered = 0;
    for (let i = 0; i < 5 && answered < 3; i++) answered += await queue.drain(Date.now() + 1000);
    expect(answered).toBe(3);
    expect(await queue.depth()).toBe(0);
    expect(await queue.holdsDebitsOf('r2')).toBe(false);
    expect(seen.filter((x) => x.requestId.includes('r2')).map((x) => x.requestId)).toEqual(['dbt:r2:m1', 'dbt:r2:m2', 'dbt:r2:m1', 'dbt:r2:m2', 'rel:r2']);
  });

  it('after-outcome debits of one reservation that come while one is on its way go as one ch2.debits, each answered as its own', async () => {
    seen.length = 0;
    busy = false;
    const ch2 = new Ch2Client(nc, { subjectPrefix: prefix, timeoutMs: 1000, retries: 0 });
    const gw = new ChargingGateway(ch2, new ChargingRetryQueue(redis, `gw${id}:b:`, ch2, 50), 'im.deferred-retrieval', 120);
    const all = await Promise.all(['m1', 'm2', 'm3'].map((m) => gw.debit('sip:dan@example.com', 's4', 'r4', m, 'delivered', 10, true)));
    // the first alone (nothing was on its way), the two that came meanwhile together
    expect(seen.map((x) => x.subject)).toEqual(['debit', 'debits']);
    expect(all).toEqual([
      { kind: 'answer', res: expect.objectContaining({ requestId: 'dbt:r4:m1', cdrId: 'c1' }) },
      { kind: 'answer', res: expect.objectContaining({ requestId: 'dbt:r4:m2', cdrId: 'c-m2' }) },
      { kind: 'answer', res: expect.objectContaining({ requestId: 'dbt:r4:m3', cdrId: 'c-m3' }) },
    ]);
  });

  it('a ch2.debits that gets no answer puts each of its debits in the queue as its own ch2.debit, with its own requestId', async () => {
    seen.length = 0;
    busy = true;
    const ch2 = new Ch2Client(nc, { subjectPrefix: prefix, timeoutMs: 1000, retries: 0 });
    const queue = new ChargingRetryQueue(redis, `gw${id}:q:`, ch2, 50);
    const gw = new ChargingGateway(ch2, queue, 'im.deferred-retrieval', 120);
    const all = await Promise.all(['m1', 'm2', 'm3'].map((m) => gw.debit('sip:erin@example.com', 's5', 'r5', m, 'delivered', 10, true)));
    expect(all).toEqual([{ kind: 'queued' }, { kind: 'queued' }, { kind: 'queued' }]);
    expect(seen.map((x) => x.subject)).toEqual(['debit', 'debits']);
    expect(await queue.depth()).toBe(3);
    expect(await queue.holdsDebitsOf('r5')).toBe(true); // the session's release waits behind them
    busy = false;
    let answered = 0;
    for (let i = 0; i < 5 && answered < 3; i++) answered += await queue.drain(Date.now() + 1000);
    expect(answered).toBe(3);
    expect(seen.slice(2).map((x) => [x.subject, x.requestId])).toEqual([
      ['debit', 'dbt:r5:m1'],
      ['debit', 'dbt:r5:m2'],
      ['debit', 'dbt:r5:m3'],
    ]);
  });
});

describe('needsDirectDebit (the fallback for a debit whose reservation is gone)', () => {
  const req = (ageMs: number) => ({
    requestId: 'dbt:r1:m1',
    subscriber: 'sip:bob@example.com',
    service: 'im.deferred-retrieval',
    timestamp: new Date(Date.now() - ageMs).toISOString(),
    reservationId: 'r1',
    itemId: 'm1',
    outcome: 'delivered' as const,
    octets: 10,
  });
  it('falls back for a reservation unknown within the idempotency window', () => {
    expect(needsDirectDebit(req(60_000), { result: 'UNKNOWN_RESERVATION' })).toBe(true);
  });
  it('never for an item already debited, for another result, or once the window may have passed', () => {
    expect(needsDirectDebit(req(60_000), { result: 'UNKNOWN_RESERVATION', settled: true })).toBe(false);
    expect(needsDirectDebit(req(60_000), { result: 'SUCCESS' })).toBe(false);
    expect(needsDirectDebit(req(24 * 3600 * 1000), { result: 'UNKNOWN_RESERVATION' })).toBe(false);
  });
});
