/**
 * The CDR store: the shards' Redis outbox streams, read for the admin listing and the billing report. Stream
 * entry ids are the Redis time of the change, so a period is an id range. A CDR id is `<shard>-<entry id>`.
 * A CDR stays here for CDR_RETENTION_DAYS once JetStream has it (cdr-retention.ts); the trimmed CDRs' totals stay as
 * per-account opening figures, and the CDRs themselves in JetStream (reports/tiered-cdr-source.ts).
 */
import { Cdr, CdrType } from '@imc/ch2';
import type { RedisClient } from '@imc/runtime';
import { LedgerKeys } from '../ledger/ledger-keys';

export interface CdrQuery {
  subscriber?: string;
  /** Inclusive, ms since epoch. */
  from?: number;
  /** Inclusive, ms since epoch. */
  to?: number;
  type?: CdrType;
  limit?: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface CdrPage {
  cdrs: Cdr[];
  nextCursor?: string;
}

const NUMERIC = new Set(['amount', 'balanceAfter', 'octets', 'items']);

export function entryToCdr(shardTag: string, id: string, fields: string[]): Cdr {
  const c: Record<string, unknown> = { cdrId: `${shardTag}-${id}` };
  for (let i = 0; i < fields.length; i += 2) {
    const k = fields[i];
    const v = fields[i + 1];
    if (v === '' && k !== 'service') continue;
    // a usage report's usage is one JSON field (lua/includes/monitoring.lua)
    c[k] = NUMERIC.has(k) ? Number(v) : k === 'usage' ? JSON.parse(v) : v;
  }
  return c as unknown as Cdr;
}

/** Orders two stream entry ids (`<ms>-<seq>`): negative, zero or positive. */
export function compareEntryIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/** Orders (entry id, shard) pairs: ms, then sequence, then shard. */
function cmp(a: { id: string; shard: number }, b: { id: string; shard: number }): number {
  return compareEntryIds(a.id, b.id) || a.shard - b.shard;
}

/** An account's totals of the CDRs trimmed from the outbox (cdr-retention.ts), carried forward for reconciliation. */
export interface OpeningTotals {
  topUps: number;
  refunds: number;
  debits: number;
}

export class CdrStore {
  constructor(private readonly redis: RedisClient, private readonly keys: LedgerKeys) {}

  /** Per account, the totals of its CDRs that left the outbox after their retention (lua/trim-outbox-4.lua). */
  async openings(): Promise<Map<string, OpeningTotals>> {
    const out = new Map<string, OpeningTotals>();
    const field = { 't:': 'topUps', 'r:': 'refunds', 'd:': 'debits' } as const;
    for (let shard = 0; shard < this.keys.shards; shard++) {
      const h = await this.redis.hgetall(this.keys.cdrOpening(shard));
      for (const [k, v] of Object.entries(h)) {
        const f = field[k.slice(0, 2) as keyof typeof field];
        if (!f) continue;
        const sub = k.slice(2);
        let o = out.get(sub);
        if (!o) out.set(sub, (o = { topUps: 0, refunds: 0, debits: 0 }));
        o[f] += Number(v);
      }
    }
    return out;
  }

  /** Per shard, the last outbox entry id trimmed (undefined: nothing trimmed): older CDRs are only in JetStream. */
  async trimmedUpTo(): Promise<(string | undefined)[]> {
    return Promise.all([...Array(this.keys.shards).keys()].map(async (s) => (await this.redis.hget(this.keys.cdrOpening(s), 'upto')) ?? undefined));
  }

  /** One page of CDRs in time order. */
  async list(q: CdrQuery): Promise<CdrPage> {
    const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
    let after: { id: string; shard: number } | undefined;
    if (q.cursor) {
      const m = /^(\d+-\d+)\.(\d+)$/.exec(q.cursor);
      if (m) after = { id: m[1], shard: Number(m[2]) };
    }
    const shards = q.subscriber ? [this.keys.shardOf(q.subscriber)] : [...Array(this.keys.shards).keys()];
    const found: { id: string; shard: number; cdr: Cdr }[] = [];
    for (const shard of shards) {
      let start = after ? after.id : q.from !== undefined ? `${q.from}-0` : '-';
      const end = q.to !== undefined ? `${q.to}-18446744073709551615` : '+';
      let taken = 0;
      while (taken < limit + 1) {
        const batch = (await this.redis.xrange(this.keys.outbox(shard), start, end, 'COUNT', 500)) as [string, string[]][];
        if (batch.length === 0) break;
        for (const [id, fields] of batch) {
          if (after && cmp({ id, shard }, after) <= 0) continue;
          const cdr = entryToCdr(this.keys.tag(shard), id, fields);
          if (q.subscriber && cdr.subscriber !== q.subscriber) continue;
          if (q.type && cdr.type !== q.type) continue;
          found.push({ id, shard, cdr });
          if (++taken > limit) break;
        }
        if (batch.length < 500) break;
        start = `(${batch[batch.length - 1][0]}`;
      }
    }
    found.sort(cmp);
    const page = found.slice(0, limit);
    const last = page[page.length - 1];
    return { cdrs: page.map((f) => f.cdr), nextCursor: found.length > limit && last ? `${last.id}.${last.shard}` : undefined };
  }

  /** Every CDR of a period (for reports), shard by shard, in time order within a shard. */
  async *all(from?: number, to?: number): AsyncGenerator<Cdr> {
    for (let shard = 0; shard < this.keys.shards; shard++) {
      let start = from !== undefined ? `${from}-0` : '-';
      const end = to !== undefined ? `${to}-18446744073709551615` : '+';
      for (;;) {
        const batch = (await this.redis.xrange(this.keys.outbox(shard), start, end, 'COUNT', 1000)) as [string, string[]][];
        for (const [id, fields] of batch) yield entryToCdr(this.keys.tag(shard), id, fields);
        if (batch.length < 1000) break;
        start = `(${batch[batch.length - 1][0]}`;
      }
    }
  }
}
