/**
 * Relays CDRs from the shards' Redis outbox streams to JetStream (ARCHITECTURE.md "No dual writes").
 * Each shard has a lease (one relaying replica at a time) and a stored position; a CDR is published with
 * `Nats-Msg-Id` = cdrId, so a re-publish after a crash or a NATS outage is dropped by JetStream's duplicate window
 * and nothing is lost: the position moves only after JetStream acknowledged every CDR before it.
 *
 * JetStream may still lose what it acknowledged (nats-server syncs its files every 2 minutes by default): with the
 * position the relay records the stream sequence JetStream gave the CDR there, and when it starts, after each NATS
 * reconnect, after a publish error and when a fresh acknowledgement comes back with a sequence at or below the one
 * recorded (the stream went backwards) it verifies each shard and re-publishes what the stream lacks from the outbox
 * (cdr-recovery.ts); it trims nothing before that verification. CDRs stay in the outbox for the retention period
 * (cdr-retention.ts, run from here every `trimEveryMs`).
 *
 * Pacing: small batches (default 64), up to 16 in a row per shard, and when the last came back full the next pass
 * starts at once (setImmediate) instead of after the interval: the relay keeps up with any sustained debit rate
 * without long bursts. It runs on a worker thread of its own (relay-thread.ts) or, in tests, on the main thread,
 * where the same pacing keeps it from holding the event loop that answers CH-2.
 */
import { randomUUID } from 'node:crypto';
import { Events, NatsConnection, RetentionPolicy, StorageType, nanos } from 'nats';
import { cdrSubjectWildcard, usageReportSubject } from '@imc/ch2';
import type { RedisClient } from '@imc/runtime';
import { LedgerKeys } from '../ledger/ledger-keys';
import { compareEntryIds, entryToCdr } from './cdr-store';
import { CdrPublisher } from './cdr-publisher';
import { CdrRecovery, RepublishResult } from './cdr-recovery';
import { CdrRetention } from './cdr-retention';

const BATCHES_PER_TICK = 16;
const DEFAULT_TRIM_EVERY_MS = 10 * 60_000;

const LEASE_LUA = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`;

export interface RelayOptions {
  subjectPrefix: string;
  stream: string;
  intervalMs: number;
  duplicateWindowSeconds: number;
  /** JetStream replicas of the stream; 0 or absent = 3 when the server is part of a cluster, else 1. */
  replicas?: number;
  /** Told when the stream is created or scaled (an operator reads it in the log). */
  onStream?: (what: string) => void;
  batch?: number;
  /** How long CDRs stay in the outbox after they were written (CDR_RETENTION_DAYS); none: never trimmed. */
  retentionMs?: number;
  /** How long a charge-once mark is kept after its charge (CHARGE_ONCE_DAYS, ms); swept with the trim. */
  markMs?: number;
  /** How often the outbox is trimmed (default 10 minutes). */
  trimEveryMs?: number;
  onRelayed?: (n: number) => void;
  onError?: (e: Error) => void;
  /** A verification re-published CDRs JetStream had lost. */
  onRecovered?: (r: RepublishResult) => void;
  onTrimmed?: (n: number) => void;
}

export class CdrRelay {
  private readonly owner = randomUUID();
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;
  private streamReady = false;
  private readonly publisher: CdrPublisher;
  private readonly recovery: CdrRecovery;
  private readonly retention?: CdrRetention;
  /** Whether the last pass found a full batch on some shard (more is waiting). */
  private lastFull = false;
  /** Set when the stream may have lost what it acknowledged: at start, on reconnect, after an error or a regression. */
  private verifyNeeded = true;
  private nextTrimAt = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LedgerKeys,
    private readonly nc: NatsConnection,
    private readonly opts: RelayOptions,
  ) {
    redis.defineCommand('imc_relay_lease', { numberOfKeys: 1, lua: LEASE_LUA });
    this.publisher = new CdrPublisher(nc, opts.subjectPrefix);
    this.recovery = new CdrRecovery(redis, keys, nc, this.publisher, { stream: opts.stream, subjectPrefix: opts.subjectPrefix });
    if (opts.retentionMs) this.retention = new CdrRetention(redis, keys, opts.retentionMs, opts.markMs ?? opts.retentionMs);
    void (async () => {
      for await (const s of nc.status()) if (s.type === Events.Reconnect) this.verifyNeeded = true;
    })().catch(() => undefined);
  }

  start(): void {
    this.stopped = false;
    const loop = async () => {
      this.timer = undefined;
      const n = await this.tick();
      if (this.stopped) return;
      if (this.lastFull && n > 0) setImmediate(loop);
      else this.timer = setTimeout(loop, this.opts.intervalMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 10));
  }

  /** The replicas the CDR stream should have: configured, or 3 on a NATS cluster (an R1 stream dies with its node). */
  streamReplicas(): number {
    if (this.opts.replicas) return this.opts.replicas;
    return this.nc.info?.cluster ? 3 : 1;
  }

  /**
   * Creates the CDR stream, or scales an existing one up to the wanted replicas (a stream made R1 by an earlier
   * version, or before the cluster grew, is replicated in place: JetStream copies it to the new peers and keeps
   * serving it meanwhile). Fewer replicas than the stream has are never forced: scaling down is an operator's call.
   */
  private async ensureStream(): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    // the CDRs and the usage reports (docs/windows-and-usage.md "Usage monitoring") share the outbox and the stream
    const subjects = [cdrSubjectWildcard(this.opts.subjectPrefix), usageReportSubject(this.opts.subjectPrefix)];
    const replicas = this.streamReplicas();
    let info: Awaited<ReturnType<typeof jsm.streams.info>> | undefined;
    try {
      info = await jsm.streams.info(this.opts.stream);
    } catch {
      info = undefined;
    }
    if (!info) {
      info = await jsm.streams.add({
        name: this.opts.stream,
        subjects,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        duplicate_window: nanos(this.opts.duplicateWindowSeconds * 1000),
        num_replicas: replicas,
      });
      this.opts.onStream?.(`created CDR stream ${this.opts.stream} with ${replicas} replica(s)`);
    } else if (subjects.some((s) => !info!.config.subjects?.includes(s))) {
      // a stream made before usage reports existed: add their subject (and scale it, if needed, in the same update)
      const wanted = Math.max(info.config.num_replicas ?? 1, replicas);
      info = await jsm.streams.update(this.opts.stream, { ...info.config, subjects: [...new Set([...(info.config.subjects ?? []), ...subjects])], num_replicas: wanted });
      this.opts.onStream?.(`added the subjects ${subjects.join(', ')} to CDR stream ${this.opts.stream}`);
    } else if ((info.config.num_replicas ?? 1) < replicas) {
      info = await jsm.streams.update(this.opts.stream, { ...info.config, num_replicas: replicas });
      this.opts.onStream?.(`scaled CDR stream ${this.opts.stream} from ${info.config.num_replicas ?? 1} to ${replicas} replicas`);
    }
    // the first stream this ledger relayed to: one created later means the stream was lost (cdr-recovery.ts)
    await this.redis.hsetnx(this.keys.relayStream(), 'created', info.created);
    this.streamReady = true;
  }

  /** One pass over every shard; returns how many CDRs were published. */
  async tick(): Promise<number> {
    if (this.running || this.nc.isClosed()) return 0;
    this.running = true;
    this.lastFull = false;
    let total = 0;
    try {
      if (!this.streamReady) await this.ensureStream();
      if (this.verifyNeeded) await this.verify();
      for (const shard of await this.shardsWithWork()) {
        if (this.stopped) break;
        total += await this.relayShard(shard);
      }
      if (this.retention && !this.verifyNeeded && Date.now() >= this.nextTrimAt && !this.stopped) {
        this.nextTrimAt = Date.now() + (this.opts.trimEveryMs ?? DEFAULT_TRIM_EVERY_MS);
        const n = await this.retention.trim();
        if (n) this.opts.onTrimmed?.(n);
        await this.retention.sweepMarks();
      }
    } catch (e) {
      this.streamReady = false;
      this.verifyNeeded = true;
      this.opts.onError?.(e as Error);
    } finally {
      this.running = false;
    }
    if (total) this.opts.onRelayed?.(total);
    return total;
  }

  /**
   * Verifies (and repairs) the shards that have relayed something, taking their leases (the others' holders do
   * theirs); shards with nothing relayed are not visited, so an idle replica takes no lease.
   */
  private async verify(): Promise<void> {
    const seqs = await Promise.all([...Array(this.keys.shards).keys()].map((s) => this.redis.get(this.keys.relaySeq(s))));
    const shards: number[] = [];
    for (let s = 0; s < this.keys.shards; s++) if (seqs[s] && (await this.lease(s)) === 1) shards.push(s);
    if (shards.length) {
      const r = await this.recovery.verify(shards);
      if (r.shards.length) this.opts.onRecovered?.(r);
    }
    this.verifyNeeded = false;
  }

  private lease(shard: number): Promise<number> {
    const leaseMs = Math.max(this.opts.intervalMs * 10, 5000);
    return (this.redis as unknown as { imc_relay_lease: (...a: (string | number)[]) => Promise<number> }).imc_relay_lease(
      this.keys.relayLease(shard),
      this.owner,
      leaseMs,
    );
  }

  /**
   * The shards whose outbox has entries past their stored position, found with one round of reads issued together
   * (each shard's position and last outbox entry): an idle pass costs one round trip, not three per shard. Shards
   * without work are not visited, so their lease is not renewed while idle; the next replica to find work takes it.
   */
  private async shardsWithWork(): Promise<number[]> {
    const shards = Array.from({ length: this.keys.shards }, (_, s) => s);
    const seen = await Promise.all(
      shards.map((s) =>
        Promise.all([
          this.redis.get(this.keys.relayPosition(s)),
          this.redis.xrevrange(this.keys.outbox(s), '+', '-', 'COUNT', 1) as Promise<[string, string[]][]>,
        ]),
      ),
    );
    return shards.filter((s) => {
      const [pos, last] = seen[s];
      return last.length > 0 && compareEntryIds(last[0][0], pos ?? '0-0') > 0;
    });
  }

  private async relayShard(shard: number): Promise<number> {
    if ((await this.lease(shard)) !== 1) return 0;
    // Under the lease: up to BATCHES_PER_TICK batches in a row (the loop yields to CH-2 requests while it waits for
    // JetStream's acks), then the next shard; a full last batch brings the next pass at once.
    const [storedPos, storedSeq] = await this.redis.mget(this.keys.relayPosition(shard), this.keys.relaySeq(shard));
    let pos = storedPos ?? '0-0';
    let lastSeq = Number(storedSeq ?? 0);
    const max = this.opts.batch ?? 64;
    const tag = this.keys.tag(shard);
    let relayed = 0;
    for (let i = 0; i < BATCHES_PER_TICK && !this.stopped; i++) {
      const batch = (await this.redis.xrange(this.keys.outbox(shard), `(${pos}`, '+', 'COUNT', max)) as [string, string[]][];
      if (batch.length === 0) break;
      const acks = await Promise.all(batch.map(([id, fields]) => this.publisher.publish(entryToCdr(tag, id, fields))));
      // a new message stored at or below the sequence recorded before: the stream lost its tail (or was re-created)
      if (acks.some((a) => !a.duplicate && a.seq <= lastSeq)) {
        this.verifyNeeded = true;
        break;
      }
      pos = batch[batch.length - 1][0];
      lastSeq = acks[acks.length - 1].seq;
      await this.redis.mset(this.keys.relayPosition(shard), pos, this.keys.relaySeq(shard), lastSeq);
      relayed += batch.length;
      if (batch.length < max) break;
      if (i === BATCHES_PER_TICK - 1) this.lastFull = true;
    }
    return relayed;
  }
}
