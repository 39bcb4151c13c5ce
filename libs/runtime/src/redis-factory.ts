/**
 * Creates the Redis client for a REDIS_URL: one URL → a single node, several comma-separated URLs → Redis Cluster
 * (operations.md "Environment"). Every multi-key script of this product keeps its keys under one hash tag, so the
 * same code runs on both.
 */
import Redis, { Cluster, RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

export function createRedis(url: string, options: RedisOptions = {}): RedisClient {
  const urls = url.split(',').map((u) => u.trim()).filter(Boolean);
  if (urls.length > 1) {
    const nodes = urls.map((u) => {
      const p = new URL(u);
      return { host: p.hostname, port: Number(p.port || 6379) };
    });
    const first = new URL(urls[0]);
    return new Cluster(nodes, {
      redisOptions: { ...options, password: first.password || undefined, username: first.username || undefined },
    });
  }
  return new Redis(urls[0], { maxRetriesPerRequest: 2, ...options });
}
