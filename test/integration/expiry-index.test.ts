/**
 * The expiry index on real Redis (retrieval-flow.md "Expiry"): deposits index their mailbox, a sweep visits only the
 * mailboxes due (not the keyspace: 50,000 unrelated keys change nothing), expires their messages, sends the `failed`
 * notices and re-indexes them; a delivered message's entry is dropped after a visit; a mailbox stored before the
 * index is found by the one-time migration; two replicas sweeping at once send one `failed` IMDN per message.
 */
import { randomBytes } from 'node:crypto';
import { createRedis, RedisClient } from '@imc/runtime';
import { DeferredStore, ExpiredNotice } from '../../apps/im-server/src/store/deferred-store';
import { EMPTY_GRACE_MS } from '../../apps/im-server/src/store/expiry-index';
import { ExpirySweeper } from '../../apps/im-server/src/store/expiry-sweeper';
import { UserStore } from '../../apps/im-server/src/store/user-store';
import { ReceiptService } from '../../apps/im-server/src/receipts/receipt.service';
import { waitFor } from '../support/enabler-harness';
import { deleteKeysWithPrefix } from '../support/redis-cleanup';

const TTL = 3600;
const limits = { maxMessageBytes: 65536, userMaxMessages: 100, userMaxBytes: 1 << 20, ttlSeconds: TTL };
const quiet = { log: () => undefined, warn: () => undefined };

describe('expiry index', () => {
  const prefix = `t${randomBytes(4).toString('hex')}:`;
  let redis: RedisClient;
  let store: DeferredStore;
  let n = 0;
  const user = (name: string) => `sip:${name}${++n}@example.com`;
  /** Received more than the TTL ago: already expired. */
  const longAgo = () => new Date(Date.now() - TTL * 1000 - 1000);
  const depositAsking = (s: DeferredStore, to: string, imdnMessageId: string, receivedAt = longAgo()) =>
    s.deposit(to, { from: user('alice'), to, contentType: 'text/plain', body: Buffer.from('x'), imdnMessageId, disposition: 'negative-delivery', receivedAt });

  beforeAll(() => {
    redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    store = new DeferredStore(redis, prefix, limits);
  });
  afterAll(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
  });

  it('a deposit indexes its mailbox at its earliest expiry; a later one leaves it, an earlier one lowers it', async () => {
    const bob = user('bob');
    const at = Date.now();
    await store.deposit(bob, { from: user('a'), to: bob, contentType: 'text/plain', body: Buffer.from('1'), receivedAt: new Date(at) });
    expect(await store.expiryIndex.dueAt(bob)).toBe(at + TTL * 1000);
    await store.deposit(bob, { from: user('a'), to: bob, contentType: 'text/plain', body: Buffer.from('2'), receivedAt: new Date(at + 5000) });
    expect(await store.expiryIndex.dueAt(bob)).toBe(at + TTL * 1000);
    await store.deposit(bob, { from: user('a'), to: bob, contentType: 'text/plain', body: Buffer.from('3'), receivedAt: new Date(at - 5000) });
    expect(await store.expiryIndex.dueAt(bob)).toBe(at - 5000 + TTL * 1000);
  });

  it('expiry: the sweep sends the failed notice and re-indexes the mailbox at its next expiry; an emptied one goes after a grace visit', async () => {
    const bob = user('bob');
    const carl = user('carl');
    await depositAsking(store, bob, 'e-1');
    const live = Date.now();
    await store.deposit(bob, { from: user('a'), to: bob, contentType: 'text/plain', body: Buffer.from('later'), receivedAt: new Date(live) });
    await depositAsking(store, carl, 'e-2');
    const seen: string[] = [];
    const now = Date.now();
    await store.sweepExpired(async (x) => void seen.push(x.imdnMessageId), now);
    expect(seen.sort()).toEqual(['e-1', 'e-2']);
    expect(await store.count(bob)).toBe(1);
    expect(await store.expiryIndex.dueAt(bob)).toBe(live + TTL * 1000);
    // carl's mailbox is empty: kept one grace period, then dropped by the next visit
    expect(await store.expiryIndex.dueAt(carl)).toBe(now + EMPTY_GRACE_MS);
    expect(await store.sweepExpired(async (x) => void seen.push(x.imdnMessageId), now + EMPTY_GRACE_MS)).toBeGreaterThanOrEqual(1);
    expect(await store.expiryIndex.dueAt(carl)).toBeUndefined();
    expect(seen).toHaveLength(2);
  });

  it('delivery: a delivered message never brings a notice; its entry is dropped after the visits at its time', async () => {
    const dan = user('dan');
    const r = await depositAsking(store, dan, 'd-1', new Date());
    if (!r.ok) throw new Error(r.reason);
    const exp = (await store.expiryIndex.dueAt(dan))!;
    expect(await store.delete(dan, r.id)).toBe(true);
    const seen: ExpiredNotice[] = [];
    await store.sweepExpired(async (x) => void seen.push(x), exp + 1);
    expect(await store.expiryIndex.dueAt(dan)).toBe(exp + 1 + EMPTY_GRACE_MS);
    await store.sweepExpired(async (x) => void seen.push(x), exp + 1 + EMPTY_GRACE_MS);
    expect(await store.expiryIndex.dueAt(dan)).toBeUndefined();
    expect(seen.filter((x) => x.aor === dan)).toEqual([]);
  });

  it('a deposit during a visit keeps its entry: the claim it drops stops the sweeper removing it', async () => {
    const eve = user('eve');
    const ix = store.expiryIndex;
    await ix.index(eve, 0); // an entry for an empty mailbox (a deposit that crashed before storing, say)
    const [entry] = (await ix.claim(ix.bucketOf(eve), Date.now(), 1000, 'tok')).filter((e) => e.aor === eve);
    const at = Date.now();
    await store.deposit(eve, { from: user('a'), to: eve, contentType: 'text/plain', body: Buffer.from('new'), receivedAt: new Date(at) });
    await ix.settle({ ...entry, wasEmpty: true }, 'tok', undefined, Date.now()); // the sweeper read the mailbox before the deposit
    expect(await ix.dueAt(eve)).toBeLessThanOrEqual(at + TTL * 1000);
  });

  it('costs O(due): 50,000 unrelated keys under another prefix change nothing, the notice comes promptly', async () => {
    const junk = `junk${randomBytes(4).toString('hex')}:`;
    // a store of its own: the other tests' mailboxes (same prefix) fall due on their own clock and would be visited
    const ownPrefix = `t${randomBytes(4).toString('hex')}:`;
    const own = new DeferredStore(redis, ownPrefix, limits);
    const names = Array.from({ length: 50_000 }, (_, i) => `${junk}dm:order:{sip:u${i}@example.com}`);
    try {
      // written 5,000 at a time, one command per key (one socket write: ioredis pipelines them; on a cluster the
      // keys lie in many slots)
      for (let i = 0; i < names.length; i += 5000) await Promise.all(names.slice(i, i + 5000).map((k) => redis.set(k, '1')));
      const frank = user('frank');
      const seen: string[] = [];
      let noticedAt = 0;
      const sweeper = new ExpirySweeper(own, async (x) => void (seen.push(x.imdnMessageId) && (noticedAt = Date.now())), 20, quiet);
      const started = Date.now();
      await depositAsking(own, frank, 'f-1');
      sweeper.start();
      try {
        await waitFor(() => seen.includes('f-1'), 'the failed notice', 2000);
      } finally {
        await sweeper.stop();
      }
      expect(noticedAt - started).toBeLessThan(1000);
      // a sweep with nothing due visits nothing
      expect(await own.sweepExpired(async () => undefined)).toBe(0);
    } finally {
      for (let i = 0; i < names.length; i += 5000) await Promise.all(names.slice(i, i + 5000).map((k) => redis.unlink(k)));
      await deleteKeysWithPrefix(redis, ownPrefix);
    }
  });

  it('a mailbox stored before the index (no entry) expires after the one-time migration at the sweeper’s start', async () => {
    const old = new DeferredStore(redis, `${prefix}old:`, limits);
    const gina = user('gina');
    await depositAsking(old, gina, 'g-1');
    // as an earlier version stored it: no index entry
    await redis.zrem(old.expiryIndex.bucketKeys(old.expiryIndex.bucketOf(gina))[0], gina);
    expect(await old.sweepExpired(async () => undefined)).toBe(0);
    const seen: string[] = [];
    const sweeper = new ExpirySweeper(old, async (x) => void seen.push(x.imdnMessageId), 20, quiet);
    sweeper.start();
    try {
      await waitFor(() => seen.includes('g-1'), 'the failed notice of the old mailbox', 5000);
    } finally {
      await sweeper.stop();
    }
    expect(seen).toEqual(['g-1']);
    // done once: the marker makes later starts skip the scan
    expect(await old.expiryIndex.migrate()).toBe(0);
  });

  it('two replicas sweeping at once: one failed IMDN per message', async () => {
    const redis2 = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      const replicas = [store, new DeferredStore(redis2, prefix, limits)];
      const sent: string[] = [];
      const receipts = [redis, redis2].map(
        (r, i) =>
          new ReceiptService({
            redis: r,
            keyPrefix: prefix,
            domain: 'example.com',
            markerTtlSeconds: 60,
            users: new UserStore(r, prefix),
            store: replicas[i],
            sender: {
              send: async (_b, _from, _to, cpim) => {
                sent.push(new TextDecoder().decode(cpim));
                return true;
              },
            },
          }),
      );
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) {
        const to = user('h');
        for (let j = 0; j < 2; j++) {
          ids.push(`r-${i}-${j}`);
          await depositAsking(store, to, `r-${i}-${j}`);
        }
      }
      const outcomes: string[][] = [[], []];
      await Promise.all(replicas.map((s, i) => s.sweepExpired(async (x) => void outcomes[i].push(`${x.imdnMessageId}:${await receipts[i].failed(x)}`))));
      const all = [...outcomes[0], ...outcomes[1]];
      const sentIds = all.filter((o) => o.endsWith(':sent')).map((o) => o.split(':')[0]);
      expect(sentIds.sort()).toEqual([...ids].sort());
      expect(sent).toHaveLength(ids.length);
      // the same notice offered again (a replica that took the entry after a lease ran out): the marker holds
      const again = await receipts[1].failed({ id: 'x', from: 'sip:a@example.com', to: 'sip:b@example.com', receivedAt: new Date().toISOString(), imdnMessageId: 'dup', disposition: 'negative-delivery' });
      expect(again).toBe('sent');
      expect(await receipts[0].failed({ id: 'x', from: 'sip:a@example.com', to: 'sip:b@example.com', receivedAt: new Date().toISOString(), imdnMessageId: 'dup', disposition: 'negative-delivery' })).toBe('already-sent');
    } finally {
      redis2.disconnect();
    }
  });
});
