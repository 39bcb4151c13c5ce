import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import Redis from 'ioredis';
import { createRedis } from '@imc/runtime';

/** Counts the socket writes (write + writev calls into libuv) of a client's current connection. */
function countWrites(redis: Redis): { writes: number; chunks: number } {
  const s = redis.stream as Socket & { _write: Socket['_write']; _writev?: (chunks: unknown[], cb: () => void) => void };
  const seen = { writes: 0, chunks: 0 };
  const write = s._write.bind(s);
  s._write = (chunk, enc, cb) => {
    seen.writes++;
    seen.chunks++;
    return write(chunk, enc, cb);
  };
  const writev = s._writev!.bind(s);
  s._writev = (chunks, cb) => {
    seen.writes++;
    seen.chunks += chunks.length;
    return writev(chunks, cb);
  };
  return seen;
}

describe('createRedis({ batchWrites }): one socket write per turn of the event loop', () => {
  const key = `test:batch:${randomBytes(4).toString('hex')}`;
  let redis: Redis;

  beforeEach(async () => {
    redis = createRedis(process.env.REDIS_URL!, { batchWrites: true }) as Redis;
    await redis.ping();
  });

  afterEach(async () => {
    await redis.del(key);
    redis.disconnect();
  });

  it('sends the commands of one turn in one write, in order, each with its own reply', async () => {
    const seen = countWrites(redis);
    const replies = await Promise.all(Array.from({ length: 50 }, () => redis.incr(key)));
    expect(replies).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(seen).toEqual({ writes: 1, chunks: 50 });
  });

  it('commands issued from the continuations of one reply share a write too', async () => {
    const seen = countWrites(redis);
    const first = await Promise.all(Array.from({ length: 10 }, () => redis.incr(key)));
    const second = await Promise.all(first.map((n) => redis.incrby(key, n)));
    // 10 INCRs in one write, then the 10 INCRBYs issued as their replies arrived, in one more
    expect(seen.writes).toBe(2);
    expect(second.at(-1)).toBe(10 + 55);
  });

  it('an unbatched client writes once per command (what the batching saves)', async () => {
    const plain = createRedis(process.env.REDIS_URL!) as Redis;
    await plain.ping();
    try {
      const seen = countWrites(plain);
      await Promise.all(Array.from({ length: 20 }, () => plain.incr(key)));
      expect(seen.writes).toBe(20);
    } finally {
      plain.disconnect();
    }
  });

  it('keeps working across a reconnect (commands queued while offline are sent when it is back)', async () => {
    await redis.set(key, '1');
    const reconnected = new Promise((r) => redis.once('ready', r));
    redis.disconnect(true);
    const pending = Promise.all([redis.incr(key), redis.incr(key)]);
    await reconnected;
    expect(await pending).toEqual([2, 3]);
    expect(await Promise.all([redis.incr(key), redis.get(key)])).toEqual([4, '4']);
  });
});
