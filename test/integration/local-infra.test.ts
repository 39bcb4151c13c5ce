import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { freePort, natsInfo, redisAnswers, startNats, startRedis } from '@imc/runtime';

describe('local infrastructure (found or started)', () => {
  it('the suite has a Redis that answers PING and a NATS with JetStream', async () => {
    expect(await redisAnswers(process.env.REDIS_URL!)).toBe(true);
    expect((await natsInfo(process.env.NATS_URL!))?.jetstream).toBe(true);
  });

  it('starts private redis-server and nats-server -js and stops them', async () => {
    const [redis, nats] = await Promise.all([startRedis(), startNats()]);
    try {
      expect(await redisAnswers(redis.url)).toBe(true);
      expect((await natsInfo(nats.url))?.jetstream).toBe(true);
    } finally {
      await Promise.all([redis.stop(), nats.stop()]);
    }
    expect(await redisAnswers(redis.url, 200)).toBe(false);
    expect(await natsInfo(nats.url, 200)).toBeUndefined();
  });

  it('freePort gives ports below the ephemeral range that bind for both TCP and UDP', async () => {
    const ports = await Promise.all(Array.from({ length: 8 }, () => freePort()));
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20000);
      expect(port).toBeLessThan(32768);
      const tcp = createServer();
      await new Promise<void>((res, rej) => tcp.once('error', rej).listen(port, '127.0.0.1', () => res()));
      const udp = createSocket('udp4');
      await new Promise<void>((res, rej) => udp.once('error', rej).bind(port, '127.0.0.1', () => res()));
      await new Promise((r) => udp.close(() => r(undefined)));
      await new Promise((r) => tcp.close(() => r(undefined)));
    }
  });
});
