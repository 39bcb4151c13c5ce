/**
 * Gives JetStream back the CDRs it lost. nats-server syncs its files every 2 minutes by default (and 2.9 cannot be
 * told otherwise), so after a crash or a power cut the CDR stream may lack CDRs it had acknowledged; the Redis outbox
 * still has them (for CDR_RETENTION_DAYS). Two ways in:
 * - `verify` (the relay runs it when it starts, after each NATS reconnect and after a publish error): for each shard,
 *   the message JetStream stored under the sequence recorded for the relay position must still be the CDR at that
 *   position. When it is not, the shard's CDRs are compared with the stream from a little before the stream's last
 *   message (JetStream loses a tail: everything after its last sync) — or from the beginning of the outbox when the
 *   stream was re-created or the shard's position is older than that — and what the stream lacks is re-published.
 * - `republish(from)`: the operator's command (POST /v1/cdrs/republish): the same comparison from a given time.
 * The comparison reads the stream's ids (it does not rely on the duplicate window, which is minutes long), and a
 * re-publish carries `Nats-Msg-Id` = cdrId, so running either twice publishes nothing twice.
 */
import type { NatsConnection } from 'nats';
import type { RedisClient } from '@imc/runtime';
import { LedgerKeys } from '../ledger/ledger-keys';
import { usageReportSubject } from '@imc/ch2';
import { JetStreamCdrSource } from '../reports/jetstream-cdr-source';
import { entryToCdr } from './cdr-store';
import { CdrPublisher } from './cdr-publisher';

/** How far before the stream's last message a repair compares (JetStream's default sync interval is 2 minutes). */
export const DEFAULT_RECOVERY_LOOKBACK_MS = 15 * 60_000;
/** How far the stream's clock (NATS) may run behind the outbox's (Redis) when choosing where to start reading. */
const CLOCK_MARGIN_MS = 60_000;
const BATCH = 500;

export interface RepublishResult {
  /** Shards compared. */
  shards: number[];
  /** Outbox CDRs compared with the stream. */
  checked: number;
  /** Of those, how many the stream lacked and stored again. */
  republished: number;
  /**
   * Of those, how many the stream lacked but dropped as duplicates: their ids are still inside its duplicate window
   * (a CDR deleted from a running server; a restarted server forgets the ids it lost). Run again after the window.
   */
  duplicates: number;
}

export class CdrRecovery {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LedgerKeys,
    private readonly nc: NatsConnection,
    private readonly publisher: CdrPublisher,
    private readonly opts: { stream: string; subjectPrefix: string; lookbackMs?: number },
  ) {}

  /**
   * Checks the given shards' relay positions against the stream and repairs those JetStream does not confirm.
   * Returns what was repaired (no shards when everything was confirmed).
   */
  async verify(shards: number[]): Promise<RepublishResult> {
    const jsm = await this.nc.jetstreamManager();
    const info = await jsm.streams.info(this.opts.stream);
    const known = await this.redis.hget(this.keys.relayStream(), 'created');
    const recreated = !!known && known !== info.created;
    const lastTs = info.state.messages > 0 ? Date.parse(info.state.last_ts) : undefined;
    const tailFrom = recreated || lastTs === undefined ? undefined : lastTs - (this.opts.lookbackMs ?? DEFAULT_RECOVERY_LOOKBACK_MS);
    const from = new Map<number, number | undefined>();
    for (const shard of shards) {
      const [pos, seq] = await this.redis.mget(this.keys.relayPosition(shard), this.keys.relaySeq(shard));
      if (!pos || !seq) continue; // nothing relayed yet (or before sequences were recorded)
      const m = await jsm.streams.getMessage(this.opts.stream, { seq: Number(seq) }).catch(() => undefined);
      if (m?.header?.get('Nats-Msg-Id') === `${this.keys.tag(shard)}-${pos}`) continue;
      // a position older than the compared tail means the loss is not a tail: compare the whole outbox
      const posMs = Number(pos.split('-')[0]);
      from.set(shard, tailFrom !== undefined && posMs >= tailFrom ? tailFrom : undefined);
    }
    const result = from.size ? await this.compare(from, true) : { shards: [], checked: 0, republished: 0, duplicates: 0 };
    if (known !== info.created) await this.redis.hset(this.keys.relayStream(), 'created', info.created);
    return result;
  }

  /** Re-publishes every relayed CDR written at or after `from` (ms; all when undefined) that the stream lacks. */
  republish(from?: number, shards = [...Array(this.keys.shards).keys()]): Promise<RepublishResult> {
    return this.compare(new Map(shards.map((s) => [s, from])), false);
  }

  /**
   * For each shard, compares the outbox from its start time up to the relay position (what the relay believes
   * published; later CDRs are the relay's ordinary work) with the stream's ids, and publishes what is missing.
   * `record`: store the sequence of each shard's position (only the relay, which holds the shards' leases).
   */
  private async compare(from: Map<number, number | undefined>, record: boolean): Promise<RepublishResult> {
    // the stream is read from the oldest CDR any compared shard still holds (less the clock margin), never from its
    // own beginning: the outbox keeps CDR_RETENTION_DAYS, the stream keeps everything since the first day
    const starts: number[] = [];
    for (const [shard, f] of from) {
      if (f !== undefined) starts.push(f);
      else {
        const first = (await this.redis.xrange(this.keys.outbox(shard), '-', '+', 'COUNT', 1)) as [string, string[]][];
        if (first.length) starts.push(Number(first[0][0].split('-')[0]) - CLOCK_MARGIN_MS);
      }
    }
    // no shard holds a CDR: only the stream's last moments can matter (the record of each shard's position)
    const earliest = Math.max(0, starts.length ? Math.min(...starts) : Date.now() - CLOCK_MARGIN_MS);
    const tags = new Set([...from.keys()].map((s) => `${this.keys.tag(s)}-`));
    const inStream = new Map<string, number>();
    const source = new JetStreamCdrSource(this.nc, this.opts.stream, this.opts.subjectPrefix);
    // the outbox holds the usage reports too: read their subject as well, or they would be published again
    for (const subject of [undefined, usageReportSubject(this.opts.subjectPrefix)]) {
      for await (const { cdr, seq } of source.entries(earliest, undefined, subject)) {
        const tag = cdr.cdrId.slice(0, cdr.cdrId.indexOf('-') + 1);
        if (tags.has(tag)) inStream.set(cdr.cdrId, seq);
      }
    }
    const result: RepublishResult = { shards: [...from.keys()], checked: 0, republished: 0, duplicates: 0 };
    for (const [shard, start] of from) {
      const pos = await this.redis.get(this.keys.relayPosition(shard));
      if (!pos) continue;
      const tag = this.keys.tag(shard);
      let cursor = start !== undefined ? `${start}-0` : '-';
      for (;;) {
        const batch = (await this.redis.xrange(this.keys.outbox(shard), cursor, pos, 'COUNT', BATCH)) as [string, string[]][];
        const missing = batch.map(([id, fields]) => entryToCdr(tag, id, fields)).filter((c) => !inStream.has(c.cdrId));
        const acks = await Promise.all(missing.map((c) => this.publisher.publish(c)));
        missing.forEach((c, i) => inStream.set(c.cdrId, acks[i].seq));
        result.checked += batch.length;
        for (const a of acks) result[a.duplicate ? 'duplicates' : 'republished']++;
        if (batch.length < BATCH) break;
        cursor = `(${batch[batch.length - 1][0]}`;
      }
      if (record) {
        const seq = inStream.get(`${tag}-${pos}`);
        // unknown (the position's CDR is no longer in the outbox): nothing to verify against until the next batch
        if (seq !== undefined) await this.redis.set(this.keys.relaySeq(shard), seq);
        else await this.redis.del(this.keys.relaySeq(shard));
      }
    }
    return result;
  }
}
