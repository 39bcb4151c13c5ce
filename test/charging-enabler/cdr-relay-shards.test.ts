/**
 * CDR relay passes: a pass visits (leases, reads, publishes) only the shards whose outbox holds entries past their
 * stored position; an idle pass visits none.
 */
import { randomBytes } from 'node:crypto';
import { connect, NatsConnection } from 'nats';
import { createRedis, RedisClient } from '@imc/runtime';
import { CdrRelay } from '../../apps/charging-enabler/src/cdr/cdr-relay';
import { LedgerKeys } from '../../apps/charging-enabler/src/ledger/ledger-keys';

describe('CDR relay: which shards a pass visits', () => {
  const id = randomBytes(3).toString('hex');
  const keys = new LedgerKeys(`relayshards${id}:`, 16);
  const stream = `RELAYSHARDS${id}`;
  let redis: RedisClient;
  let nc: NatsConnection;
  let relay: CdrRelay;

  const leased = async () => (await Promise.all(Array.from({ length: 16 }, (_, s) => redis.exists(keys.relayLease(s))))).flatMap((n, s) => (n ? [s] : []));
  const debitEntry = (shard: number, n: number) =>
    redis.xadd(keys.outbox(shard), '*', 'type', 'debit', 'subscriber', 'sip:a@example.com', 'service', 'im.deferred-retrieval', 'amount', String(n), 'currency', 'EUR');

  beforeAll(async () => {
    redis = createRedis(process.env.REDIS_URL!, { batchWrites: true });
    nc = await connect({ servers: process.env.NATS_URL! });
    relay = new CdrRelay(redis, keys, nc, { subjectPrefix: `relayshards${id}.`, stream, intervalMs: 200, duplicateWindowSeconds: 120 });
  });

  afterAll(async () => {
    await (await nc.jetstreamManager()).streams.delete(stream).catch(() => undefined);
    const all = await redis.keys(`relayshards${id}:*`);
    if (all.length) await redis.del(...all);
    await nc.close();
    redis.disconnect();
  });

  it('an idle pass takes no lease; a pass with work in shards 3 and 11 visits those two and relays their CDRs', async () => {
    expect(await relay.tick()).toBe(0);
    expect(await leased()).toEqual([]);

    for (let i = 0; i < 5; i++) await debitEntry(3, i);
    for (let i = 0; i < 2; i++) await debitEntry(11, i);
    expect(await relay.tick()).toBe(7);
    expect(await leased()).toEqual([3, 11]);
    const info = await (await nc.jetstreamManager()).streams.info(stream);
    expect(info.state.messages).toBe(7);

    // relayed up to the end: the next pass finds nothing to do, and a new entry in shard 3 is the only work
    expect(await relay.tick()).toBe(0);
    await debitEntry(3, 99);
    expect(await relay.tick()).toBe(1);
    expect(await redis.get(keys.relayPosition(3))).toBe(((await redis.xrevrange(keys.outbox(3), '+', '-', 'COUNT', 1)) as [string, string[]][])[0][0]);
  });
});
