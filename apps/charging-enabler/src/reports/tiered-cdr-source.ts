/**
 * The CDRs of any period, wherever they are now: a shard's CDRs up to its last trimmed outbox entry (past
 * CDR_RETENTION_DAYS, cdr-retention.ts) are read from JetStream, the later ones from the Redis outbox — each CDR
 * from exactly one of them, so a report's numbers are the same before and after a trim. JetStream is only asked
 * when the period reaches back before what some shard still holds. (The reconciliation does not read this: it reads
 * the outbox with the accounts' opening figures, the trimmed CDRs' totals — exact, and never needs the stream.)
 */
import type { Cdr } from '@imc/ch2';
import { CdrStore, compareEntryIds } from '../cdr/cdr-store';
import type { CdrSource } from './billing-report';

/** The shard tag and outbox entry id of a cdrId `s<shard>-<ms>-<seq>`. */
function parseCdrId(cdrId: string): { shard: number; entryId: string } | undefined {
  const m = /^s(\d+)-(\d+-\d+)$/.exec(cdrId);
  return m ? { shard: Number(m[1]), entryId: m[2] } : undefined;
}

export class TieredCdrSource implements CdrSource {
  constructor(
    private readonly store: CdrStore,
    private readonly jetStream: () => Promise<CdrSource>,
  ) {}

  async *all(from?: number, to?: number): AsyncGenerator<Cdr> {
    const upTo = await this.store.trimmedUpTo();
    const trimmedMs = upTo.map((id) => (id ? Number(id.split('-')[0]) : -1));
    if (trimmedMs.some((ms) => ms >= 0 && (from === undefined || ms >= from))) {
      const newest = Math.max(...trimmedMs);
      const js = await this.jetStream();
      for await (const c of js.all(from, to === undefined ? newest : Math.min(to, newest))) {
        const at = parseCdrId(c.cdrId);
        const trimmed = at && upTo[at.shard];
        if (trimmed && compareEntryIds(at.entryId, trimmed) <= 0) yield c;
      }
    }
    yield* this.store.all(from, to);
  }
}
