/**
 * Keeps CDRs in the Redis outbox only for the retention period (CDR_RETENTION_DAYS) once JetStream acknowledged
 * them: each shard is trimmed by one Lua script (lua/trim-outbox-4.lua) that folds the trimmed CDRs' totals into
 * the shard's per-account opening figures in the same atomic step, so the billing report's reconciliation stays
 * exact (opening figures + CDRs in the outbox = every change of every balance) and a report for an older period
 * reads the trimmed CDRs back from JetStream (reports/tiered-cdr-source.ts). The charge-once marks are swept on
 * their own clock (CHARGE_ONCE_DAYS, lua/sweep-marks-1.lua): they must outlive every stored message, not the CDRs.
 */
import { join } from 'node:path';
import { defineLuaScripts, LuaFn, RedisClient } from '@imc/runtime';
import { LedgerKeys } from '../ledger/ledger-keys';

const LUA_DIR = join(__dirname, 'lua');
export const DAY_MS = 86_400_000;

export class CdrRetention {
  private readonly trimScript: LuaFn;
  private readonly sweepScript: LuaFn;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LedgerKeys,
    /** How long a CDR stays in the outbox after it was written (ms). */
    readonly retentionMs: number,
    /** How long a charge-once mark is kept after its charge (ms): longer than any stored message lives. */
    readonly markMs: number,
    private readonly batch = 1000,
  ) {
    const scripts = defineLuaScripts(redis, LUA_DIR, 'imc_cdr');
    this.trimScript = scripts['trim-outbox'];
    this.sweepScript = scripts['sweep-marks'];
  }

  /** Removes the charge-once marks of charges made before `nowMs - markMs`; returns how many went. */
  async sweepMarks(nowMs = Date.now()): Promise<number> {
    let removed = 0;
    for (let shard = 0; shard < this.keys.shards; shard++) {
      let cursor = '0';
      do {
        const [next, n] = (await this.sweepScript(this.keys.chargedMessages(shard), cursor, nowMs - this.markMs, this.batch)) as [string, number];
        cursor = next;
        removed += n;
      } while (cursor !== '0');
    }
    return removed;
  }

  /** Trims every shard of what is past retention at `nowMs` (and relayed); returns how many CDRs left Redis. */
  async trim(nowMs = Date.now()): Promise<number> {
    let total = 0;
    for (let shard = 0; shard < this.keys.shards; shard++) {
      for (;;) {
        const [n] = (await this.trimScript(
          this.keys.outbox(shard),
          this.keys.relayPosition(shard),
          this.keys.charges(shard),
          this.keys.cdrOpening(shard),
          nowMs - this.retentionMs,
          this.batch,
          this.keys.tag(shard),
        )) as [number, string];
        total += n;
        if (n < this.batch) break;
      }
    }
    return total;
  }
}
