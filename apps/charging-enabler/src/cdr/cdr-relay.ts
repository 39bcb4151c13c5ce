/**
 * Relays CDRs from the shards' Redis outbox streams to JetStream (ARCHITECTURE.md "No dual writes").
 * Each shard has a lease (one relaying replica at a time) and a stored position; a CDR is published with
 * `Nats-Msg-Id` = cdrId, so a re-publish after a crash or a NATS outage is dropped by JetStream's duplicate window
 * and nothing is lost: the position moves only after JetStream acknowledged every CDR before it.
 *
 * Pacing: small batches (default 64), up to 16 in a row per shard, and when the last came back full the next pass
 * starts at once (setImmediate) instead of after the interval: the relay keeps up with any sustained debit rate
 * without long bursts. It runs on a worker thread of its own (relay-thread.ts) or, in tests, on the main thread,
 * where the same pacing keeps it from holding the event loop that answers CH-2.
 */
import { randomUUID } from 'node:crypto';
import { headers, NatsConnection, RetentionPolicy, StorageType, nanos } from 'nats';
import { cdrSubject, cdrSubjectWildcard, CdrType, NatsRequester } from '@imc/ch2';
import type { RedisClient } from '@imc/runtime';
import { LedgerKeys } from '../ledger/ledger-keys';
import { compareEntryIds, entryToCdr } from './cdr-store';

const enc = new TextEncoder();
const dec = new TextDecoder();
const BATCHES_PER_TICK = 16;
const PUBLISH_TIMEOUT_MS = 5000;

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
  onRelayed?: (n: number) => void;
  onError?: (e: Error) => void;
}

export class CdrRelay {
  private readonly owner = randomUUID();
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;
  private streamReady = false;
  private readonly requester: NatsRequester;
  /** Whether the last pass found a full batch on some shard (more is waiting). */
  private lastFull = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LedgerKeys,
    private readonly nc: NatsConnection,
    private readonly opts: RelayOptions,
  ) {
    redis.defineCommand('imc_relay_lease', { numberOfKeys: 1, lua: LEASE_LUA });
    this.requester = new NatsRequester(nc);
  }

  /**
   * One JetStream publish with `Nats-Msg-Id` (the stream drops a re-publish inside its duplicate window), over the
   * shared reply subscription; resolves on the stream's PubAck, throws on an error answer or a missing stream.
   */
  private async publish(subject: string, cdrId: string, payload: Uint8Array): Promise<void> {
    const h = headers();
    h.set('Nats-Msg-Id', cdrId);
    const m = await this.requester.request(subject, payload, PUBLISH_TIMEOUT_MS, h);
    const ack = JSON.parse(dec.decode(m.data)) as { stream?: string; error?: { description?: string } };
    if (ack.error || !ack.stream) throw new Error(`JetStream refused ${cdrId}: ${ack.error?.description ?? dec.decode(m.data)}`);
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
    const subjects = [cdrSubjectWildcard(this.opts.subjectPrefix)];
    const replicas = this.streamReplicas();
    let info: Awaited<ReturnType<typeof jsm.streams.info>> | undefined;
    try {
      info = await jsm.streams.info(this.opts.stream);
    } catch {
      info = undefined;
    }
    if (!info) {
      await jsm.streams.add({
        name: this.opts.stream,
        subjects,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        duplicate_window: nanos(this.opts.duplicateWindowSeconds * 1000),
        num_replicas: replicas,
      });
      this.opts.onStream?.(`created CDR stream ${this.opts.stream} with ${replicas} replica(s)`);
    } else if ((info.config.num_replicas ?? 1) < replicas) {
      await jsm.streams.update(this.opts.stream, { ...info.config, num_replicas: replicas });
      this.opts.onStream?.(`scaled CDR stream ${this.opts.stream} from ${info.config.num_replicas ?? 1} to ${replicas} replicas`);
    }
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
      for (const shard of await this.shardsWithWork()) {
        if (this.stopped) break;
        total += await this.relayShard(shard);
      }
    } catch (e) {
      this.streamReady = false;
      this.opts.onError?.(e as Error);
    } finally {
      this.running = false;
    }
    if (total) this.opts.onRelayed?.(total);
    return total;
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
    const leaseMs = Math.max(this.opts.intervalMs * 10, 5000);
    const lease = await (this.redis as unknown as { imc_relay_lease: (...a: (string | number)[]) => Promise<number> }).imc_relay_lease(
      this.keys.relayLease(shard),
      this.owner,
      leaseMs,
    );
    if (lease !== 1) return 0;
    // Under the lease: up to BATCHES_PER_TICK batches in a row (the loop yields to CH-2 requests while it waits for
    // JetStream's acks), then the next shard; a full last batch brings the next pass at once.
    let pos = (await this.redis.get(this.keys.relayPosition(shard))) ?? '0-0';
    const max = this.opts.batch ?? 64;
    const tag = this.keys.tag(shard);
    let relayed = 0;
    for (let i = 0; i < BATCHES_PER_TICK && !this.stopped; i++) {
      const batch = (await this.redis.xrange(this.keys.outbox(shard), `(${pos}`, '+', 'COUNT', max)) as [string, string[]][];
      if (batch.length === 0) break;
      await Promise.all(
        batch.map(([id, fields]) => {
          const cdr = entryToCdr(tag, id, fields);
          return this.publish(cdrSubject(cdr.type as CdrType, this.opts.subjectPrefix), cdr.cdrId, enc.encode(JSON.stringify(cdr)));
        }),
      );
      pos = batch[batch.length - 1][0];
      await this.redis.set(this.keys.relayPosition(shard), pos);
      relayed += batch.length;
      if (batch.length < max) break;
      if (i === BATCHES_PER_TICK - 1) this.lastFull = true;
    }
    return relayed;
  }
}
