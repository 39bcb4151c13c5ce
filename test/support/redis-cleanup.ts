import type { RedisClient } from '@imc/runtime';

/**
 * Deletes every key under `prefix` (SCAN MATCH, UNLINK a page at a time; every master of a cluster), for a bench or
 * a test that leaves its keys in a shared Redis. Glob characters in the prefix are escaped. Returns how many went.
 */
export async function deleteKeysWithPrefix(redis: RedisClient, prefix: string): Promise<number> {
  const glob = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  const nodes = 'nodes' in redis && typeof redis.nodes === 'function' ? redis.nodes('master') : [redis];
  let n = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', glob, 'COUNT', 1000);
      cursor = next;
      // one UNLINK per key: the keys of a page may lie in different cluster slots
      n += (await Promise.all(keys.map((k) => node.unlink(k)))).reduce((a, b) => a + b, 0);
    } while (cursor !== '0');
  }
  return n;
}
