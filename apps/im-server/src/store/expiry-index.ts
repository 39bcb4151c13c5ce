/**
 * The expiry index (retrieval-flow.md "Expiry"): which mailboxes need the sweeper, and when. A sorted set per
 * bucket, aor → the earliest time the mailbox needs a visit (its earliest message expiry, or now while `failed`
 * notices wait on its due list), next to a hash of the claims sweepers hold on its entries. The aors are spread over
 * EXPIRY_BUCKETS buckets, each its own hash tag `{x<N>}`, so a Redis Cluster spreads the index over its nodes; a
 * mailbox's keys carry the tag `{<aor>}`, so the index is written by its own small scripts (lua/index-2, claim-2,
 * settle-2), never inside the mailbox scripts. A sweep costs O(entries due), whatever else the Redis holds.
 */
import { LuaFn, RedisClient } from '@imc/runtime';

/** Fixed: changing it once data exists would leave entries in buckets no sweeper reads. */
export const EXPIRY_BUCKETS = 16;
/** How long a sweeper's claim on an entry holds off the other replicas (a sweeper that died: due again after it). */
export const CLAIM_LEASE_MS = 60_000;
/** How long an entry of a mailbox found empty is kept before it may go (a deposit indexed just before the visit). */
export const EMPTY_GRACE_MS = 60_000;

export interface ClaimedEntry {
  aor: string;
  /** Found empty at the previous visit, with no deposit since: may be removed if still empty. */
  wasEmpty: boolean;
}

export class ExpiryIndex {
  /** `lua`: the store's scripts (lua/), which hold the index's. */
  constructor(private readonly redis: RedisClient, private readonly prefix: string, private readonly lua: Record<string, LuaFn>, readonly buckets = EXPIRY_BUCKETS) {}

  /** djb2 of the aor, modulo the bucket count. */
  bucketOf(aor: string): number {
    let h = 5381;
    for (let i = 0; i < aor.length; i++) h = (Math.imul(h, 33) + aor.charCodeAt(i)) | 0;
    return (h >>> 0) % this.buckets;
  }

  bucketKeys(bucket: number): [zset: string, claims: string] {
    return [`${this.prefix}dm:xidx:{x${bucket}}`, `${this.prefix}dm:xclm:{x${bucket}}`];
  }

  /** Lowers the mailbox's entry to `dueAt` (ms) at most, and drops any sweeper's claim on it. */
  async index(aor: string, dueAt: number): Promise<void> {
    await this.lua.index(...this.bucketKeys(this.bucketOf(aor)), aor, dueAt);
  }

  /** When the mailbox is due (ms), or undefined when it has no entry. */
  async dueAt(aor: string): Promise<number | undefined> {
    const s = await this.redis.zscore(this.bucketKeys(this.bucketOf(aor))[0], aor);
    return s === null ? undefined : Number(s);
  }

  /** Takes up to `max` entries of a bucket due at `now`, under the sweep's token, for CLAIM_LEASE_MS. */
  async claim(bucket: number, now: number, max: number, token: string): Promise<ClaimedEntry[]> {
    const flat = (await this.lua.claim(...this.bucketKeys(bucket), now, CLAIM_LEASE_MS, max, token)) as string[];
    const out: ClaimedEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ aor: flat[i], wasEmpty: flat[i + 1] === 'empty' });
    return out;
  }

  /** Re-indexes a visited mailbox at `next` (ms; undefined: empty). See lua/settle-2.lua. */
  async settle(entry: ClaimedEntry, token: string, next: number | undefined, now: number): Promise<void> {
    await this.lua.settle(...this.bucketKeys(this.bucketOf(entry.aor)), entry.aor, token, next ?? '', now + EMPTY_GRACE_MS, entry.wasEmpty ? '1' : '');
  }

  /**
   * Indexes, due now, every mailbox stored by a version without the index (one SCAN of each master for the order
   * indexes and due lists), then sets a marker so later starts skip it. Returns how many mailboxes were found.
   * `stopped`: checked between SCAN pages; a migration stopped early sets no marker (the next start does it again).
   */
  async migrate(stopped: () => boolean = () => false): Promise<number> {
    const marker = `${this.prefix}dm:xidx:migrated`;
    if (await this.redis.exists(marker)) return 0;
    const glob = this.prefix.replace(/[*?[\]\\]/g, '\\$&');
    const shape = /dm:(?:order|ndq):\{(.+)\}$/;
    const nodes = 'nodes' in this.redis && typeof this.redis.nodes === 'function' ? this.redis.nodes('master') : [this.redis];
    let n = 0;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${glob}dm:[on][rd][dq]*`, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          const aor = key.startsWith(this.prefix) ? shape.exec(key.slice(this.prefix.length))?.[1] : undefined;
          if (aor === undefined) continue;
          await this.index(aor, 0);
          n++;
        }
      } while (cursor !== '0' && !stopped());
    }
    if (stopped()) return n;
    await this.redis.set(marker, new Date().toISOString());
    return n;
  }
}
