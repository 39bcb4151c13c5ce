import { natsInfo, redisAnswers, startNats, startRedis } from '@imc/runtime';

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
});
