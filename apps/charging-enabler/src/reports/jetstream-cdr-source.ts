/**
 * The CDRs as the billing system sees them: read back from the JetStream stream the relay publishes to
 * (`<prefix>ch2.cdr.>`), with an ordered consumer starting at the period's first CDR. The period is judged by the
 * ledger's write time carried in the cdrId (`<shard>-<ms>-<seq>`, the outbox entry id), exactly as the CDR store
 * judges it, so a report from either source has the same numbers once the relay has caught up.
 */
import { DeliverPolicy, JsMsg, NatsConnection } from 'nats';
import { Cdr, cdrSubjectWildcard } from '@imc/ch2';
import type { CdrSource } from './billing-report';

/** The ledger's write time of a CDR (ms), from its id `<shard>-<ms>-<seq>`. */
export function cdrWrittenAt(cdrId: string): number | undefined {
  const m = /-(\d+)-(\d+)$/.exec(cdrId);
  return m ? Number(m[1]) : undefined;
}

export class JetStreamCdrSource implements CdrSource {
  constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
    private readonly subjectPrefix: string,
    private readonly batch = 1000,
  ) {}

  async *all(from?: number, to?: number): AsyncGenerator<Cdr> {
    for await (const e of this.entries(from, to)) yield e.cdr;
  }

  /**
   * Every CDR of the period with the stream sequence it is stored under (the relay's recovery checks it); `subject`
   * reads another subject of the stream (the usage reports).
   */
  async *entries(from?: number, to?: number, subject = cdrSubjectWildcard(this.subjectPrefix)): AsyncGenerator<{ cdr: Cdr; seq: number }> {
    const jsm = await this.nc.jetstreamManager();
    // how many CDRs there are for this prefix right now: the read stops there (later ones belong to the next report)
    const info = await jsm.streams.info(this.stream, { subjects_filter: subject }).catch(() => undefined);
    if (!info || info.state.messages === 0) return;
    const lastSeq = info.state.last_seq;
    const consumer = await this.nc.jetstream().consumers.get(this.stream, {
      filterSubjects: subject, // one subject as a string: filter_subject, which nats-server 2.9 understands too
      // the relay publishes a CDR shortly after it is written: start a minute early, filter exactly below
      ...(from !== undefined ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(from - 60_000).toISOString() } : {}),
    });
    // ask for exactly what is pending (known from each message's delivery info) so a fetch never waits out its expiry
    let want = 1;
    for (;;) {
      const msgs = await consumer.fetch({ max_messages: want, expires: 2000 });
      let got = 0;
      let pending = 0;
      let last = 0;
      for await (const m of msgs as AsyncIterable<JsMsg>) {
        got++;
        pending = m.info.pending;
        last = m.seq;
        const cdr = m.json<Cdr>();
        const at = cdrWrittenAt(cdr.cdrId);
        if (at !== undefined && (from === undefined || at >= from) && (to === undefined || at <= to)) yield { cdr, seq: m.seq };
      }
      if (got === 0 || pending === 0 || last >= lastSeq) break;
      want = Math.min(pending, this.batch);
    }
  }
}
