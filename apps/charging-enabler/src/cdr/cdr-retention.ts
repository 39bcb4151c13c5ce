/**
 * Keeps CDRs in the Redis outbox only for the retention period (CDR_RETENTION_DAYS) once JetStream acknowledged
 * them: each shard is trimmed by one Lua script (lua/trim-outbox-5.lua) that folds the trimmed CDRs' totals into
 * the shard's per-account opening figures in the same atomic step, so the billing report's reconciliation stays
 * exact (opening figures + CDRs in the outbox = every change of every balance) and a report for an older period
 * reads the trimmed CDRs back from JetStream (reports/tiered-cdr-source.ts).
 */
import { join } from 'node:path';
import { defineLuaScripts, LuaFn, RedisClient } from '@imc/runtime';
import { LedgerKeys } from '../ledger/ledger-keys';

const LUA_DIR = join(__dirname, 'lua');
export const DAY_MS = 86_400_000;

export class CdrRetention {
  private readonly trimScript: LuaFn;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LedgerKeys,
    /** How long a CDR stays in the outbox after it was written (ms). */
    readonly retentionMs: number,
    private readonly batch = 1000,
  ) {
    this.trimScript = defineLuaScripts(redis, LUA_DIR, 'imc_cdr')['trim-outbox'];
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
          this.keys.chargedMessages(shard),
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
