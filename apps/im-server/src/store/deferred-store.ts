/**
 * The deferred-message store on Redis (retrieval-flow.md "Deposit"): per user, messages in arrival order with
 * metadata and the body bytes verbatim, caps checked atomically at deposit, expiry, deletion only after a
 * confirmed delivery. All keys of one user share the hash tag `{<aor>}`.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { defineLuaScripts, LuaFn, RedisClient } from '@imc/runtime';
import { asksFor } from '../receipts/imdn-receipt';
import { ClaimedEntry, ExpiryIndex } from './expiry-index';

export interface DepositInput {
  from: string;
  to: string;
  contentType: string;
  body: Uint8Array;
  imdnMessageId?: string;
  disposition?: string;
  receivedAt?: Date;
  /** An IMDN stored for its (offline) addressee: delivered like a message, never charged (receipts/). */
  receipt?: boolean;
  /** The background-window resource the message was deposited under (windows/: rated at its rating group). */
  bdtReferenceId?: string;
}

export interface StoredMessageMeta {
  id: string;
  from: string;
  to: string;
  contentType: string;
  octets: number;
  receivedAt: string;
  expiresAt: string;
  imdnMessageId?: string;
  disposition?: string;
  /** A stored IMDN: left out of every reservation and price, delivered free. */
  receipt?: true;
  bdtReferenceId?: string;
}

/**
 * What a `failed` IMDN needs once a message that asked `negative-delivery` expires undelivered (the message's own
 * hash is gone by then): kept beside the message from its deposit, moved to a due list when it expires.
 */
export interface ExpiredNotice {
  /** The recipient whose message expired (the mailbox). */
  aor: string;
  id: string;
  from: string;
  to: string;
  imdnMessageId: string;
  disposition: string;
  receivedAt: string;
}

export interface StoredMessage extends StoredMessageMeta {
  body: Buffer;
}

export type DepositResult =
  | { ok: true; id: string; count: number }
  | { ok: false; status: 486 | 513; reason: string };

export interface StoreLimits {
  maxMessageBytes: number;
  userMaxMessages: number;
  userMaxBytes: number;
  ttlSeconds: number;
}

/** Mailboxes a sweep takes from one bucket at a time, and visits side by side. */
const SWEEP_BATCH = 50;

const META = ['from', 'to', 'ct', 'octets', 'at', 'exp', 'imdn', 'disp', 'rcpt', 'bdt'] as const;

export class DeferredStore {
  private readonly lua: Record<string, LuaFn>;
  /** Which mailboxes need the expiry sweeper, and when (expiry-index.ts). */
  readonly expiryIndex: ExpiryIndex;

  constructor(private readonly redis: RedisClient, private readonly prefix: string, private readonly limits: StoreLimits) {
    this.lua = defineLuaScripts(redis, join(__dirname, 'lua'), 'imc_store');
    this.expiryIndex = new ExpiryIndex(redis, prefix, this.lua);
  }

  private keys(aor: string) {
    const t = `{${aor}}`;
    return {
      order: `${this.prefix}dm:order:${t}`,
      expiry: `${this.prefix}dm:exp:${t}`,
      octets: `${this.prefix}dm:oct:${t}`,
      usage: `${this.prefix}dm:use:${t}`,
      msg: (id: string) => `${this.prefix}dm:msg:${t}:${id}`,
      watch: `${this.prefix}dm:nd:${t}`,
      due: `${this.prefix}dm:ndq:${t}`,
    };
  }

  /**
   * One retrieval per user at a time, across every im-server instance: two sessions would both reserve and deliver
   * the same stored messages, each under its own reservation, and charge them twice. A lease in Redis (SET NX PX),
   * owned by the session's Call-ID, refreshed while the session lives and dropped when it ends; a crashed
   * instance's lease runs out by itself.
   */
  async lockRetrieval(aor: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.lockKey(aor), owner, 'PX', ttlMs, 'NX')) === 'OK';
  }

  /** Extends the lease if `owner` still holds it; false when it was lost. */
  async refreshRetrievalLock(aor: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.lua['lease-refresh'](this.lockKey(aor), owner, ttlMs)) === 1;
  }

  async unlockRetrieval(aor: string, owner: string): Promise<void> {
    await this.lua['lease-release'](this.lockKey(aor), owner);
  }

  private lockKey(aor: string): string {
    return `${this.prefix}dm:lock:{${aor}}`;
  }

  async deposit(aor: string, m: DepositInput): Promise<DepositResult> {
    if (m.body.length > this.limits.maxMessageBytes)
      return { ok: false, status: 513, reason: `message of ${m.body.length} bytes exceeds IM_MAX_MESSAGE_BYTES (${this.limits.maxMessageBytes})` };
    const k = this.keys(aor);
    const id = randomUUID();
    const at = (m.receivedAt ?? new Date()).getTime();
    const exp = at + this.limits.ttlSeconds * 1000;
    const fields: (string | number | Buffer)[] = [
      'from', m.from, 'to', m.to, 'ct', m.contentType, 'octets', m.body.length, 'at', at, 'exp', exp,
      'body', Buffer.from(m.body.buffer, m.body.byteOffset, m.body.length),
    ];
    if (m.imdnMessageId) fields.push('imdn', m.imdnMessageId);
    if (m.disposition) fields.push('disp', m.disposition);
    if (m.receipt) fields.push('rcpt', '1');
    // RFC 5438 §5.1: a failure report needs the original Message-ID; a receipt never asks for one (§7.1.1)
    const watch =
      !m.receipt && m.imdnMessageId && asksFor(m.disposition, 'negative-delivery')
        ? JSON.stringify({ aor, id, from: m.from, to: m.to, imdnMessageId: m.imdnMessageId, disposition: m.disposition!, receivedAt: new Date(at).toISOString() } satisfies ExpiredNotice)
        : '';
    if (m.bdtReferenceId) fields.push('bdt', m.bdtReferenceId);
    // indexed first (another slot): a crash before the store below leaves an entry a sweep drops, never a message unindexed
    await this.expiryIndex.index(aor, exp);
    const [code, n] = (await this.lua.deposit(
      k.order, k.msg(id), k.usage, k.expiry, k.octets, k.watch,
      id, m.body.length, this.limits.userMaxMessages, this.limits.userMaxBytes, exp, watch, ...fields,
    )) as [number, number];
    if (code === -1) return { ok: false, status: 486, reason: `mailbox full: ${n} messages waiting (limit ${this.limits.userMaxMessages})` };
    if (code === -2) return { ok: false, status: 486, reason: `mailbox full: ${n} bytes waiting (limit ${this.limits.userMaxBytes})` };
    return { ok: true, id, count: n };
  }

  /** Pending message ids, oldest first (expired ones are dropped on the way). */
  async pendingIds(aor: string, limit = 100000): Promise<string[]> {
    const k = this.keys(aor);
    return (await this.lua.pending(k.order, k.expiry, k.octets, k.usage, k.watch, k.due, Date.now(), limit)) as string[];
  }

  async pending(aor: string, limit = 100000): Promise<StoredMessageMeta[]> {
    const ids = await this.pendingIds(aor, limit);
    if (!ids.length) return [];
    const k = this.keys(aor);
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hmget(k.msg(id), ...META);
    const rows = (await pipe.exec()) ?? [];
    const out: StoredMessageMeta[] = [];
    rows.forEach(([err, v], i) => {
      const r = v as (string | null)[];
      if (err || !r || r[0] === null) return;
      out.push({
        id: ids[i],
        from: r[0]!,
        to: r[1]!,
        contentType: r[2]!,
        octets: Number(r[3]),
        receivedAt: new Date(Number(r[4])).toISOString(),
        expiresAt: new Date(Number(r[5])).toISOString(),
        ...(r[6] ? { imdnMessageId: r[6] } : {}),
        ...(r[7] ? { disposition: r[7] } : {}),
        ...(r[8] === '1' ? { receipt: true as const } : {}),
        ...(r[9] ? { bdtReferenceId: r[9] } : {}),
      });
    });
    return out;
  }

  /** The background-window tag of each message (undefined: untagged or gone), in order. */
  async tagsOf(aor: string, ids: readonly string[]): Promise<(string | undefined)[]> {
    const k = this.keys(aor);
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hget(k.msg(id), 'bdt');
    const rows = (await pipe.exec()) ?? [];
    return rows.map(([err, v]) => (err || typeof v !== 'string' ? undefined : v));
  }

  async body(aor: string, id: string): Promise<Buffer | null> {
    return this.redis.hgetBuffer(this.keys(aor).msg(id), 'body');
  }

  /** Deletes a message whose delivery was confirmed. */
  async delete(aor: string, id: string): Promise<boolean> {
    const k = this.keys(aor);
    return (await this.lua.delete(k.order, k.expiry, k.octets, k.usage, k.msg(id), k.watch, id)) === 1;
  }

  /** The `failed` notices of a user's expired messages, oldest first, still on the due list (at most `max`). */
  async dueNotices(aor: string, max = 100): Promise<{ raw: string; notice: ExpiredNotice }[]> {
    const raws = await this.redis.lrange(this.keys(aor).due, 0, max - 1);
    return raws.map((raw) => ({ raw, notice: JSON.parse(raw) as ExpiredNotice }));
  }

  /** Takes a handled notice off the due list (after its `failed` IMDN was sent or stored). */
  async noticeHandled(aor: string, raw: string): Promise<void> {
    await this.redis.lrem(this.keys(aor).due, 1, raw);
  }

  async count(aor: string): Promise<number> {
    return Number((await this.redis.hget(this.keys(aor).usage, 'count')) ?? 0);
  }

  /**
   * One expiry sweep (the sweeper, expiry-sweeper.ts): takes the expiry index's entries due at `now`, bucket by
   * bucket, and for each mailbox drops its expired messages (moving their `failed` notices to its due list), hands
   * the due notices to `onExpired` (receipts/ReceiptService.failed), taking a notice off the list only once it was
   * handled (a crash in between hands it over again; the receipt service's once-per-message marker keeps that to one
   * IMDN), then re-indexes the mailbox at its next expiry. A notice whose handling threw stays due, for the next
   * sweep; the first such error is thrown once every due mailbox was visited. Returns how many mailboxes were visited.
   */
  async sweepExpired(onExpired?: (n: ExpiredNotice) => Promise<void>, now = Date.now()): Promise<number> {
    const token = randomUUID();
    let visited = 0;
    let failure: unknown;
    for (let b = 0; b < this.expiryIndex.buckets; b++) {
      for (;;) {
        const batch = await this.expiryIndex.claim(b, now, SWEEP_BATCH, token);
        await Promise.all(batch.map((e) => this.visit(e, token, now, onExpired).catch((err: unknown) => (failure ??= err))));
        visited += batch.length;
        if (batch.length < SWEEP_BATCH) break;
      }
    }
    if (failure !== undefined) throw failure;
    return visited;
  }

  private async visit(entry: ClaimedEntry, token: string, now: number, onExpired?: (n: ExpiredNotice) => Promise<void>): Promise<void> {
    const k = this.keys(entry.aor);
    const [earliest, dueCount] = (await this.lua.pending(k.order, k.expiry, k.octets, k.usage, k.watch, k.due, now, 0, '1')) as [number, number];
    let next = earliest < 0 ? undefined : earliest;
    let failure: unknown;
    if (dueCount > 0) {
      if (onExpired) await this.handleDue(entry.aor, onExpired).catch((e: unknown) => (failure = e));
      // notices left (unhandled, or no handler): due again at the next sweep
      if (failure !== undefined || !onExpired) next = Math.min(next ?? Infinity, now + 1);
    }
    await this.expiryIndex.settle(entry, token, next, now);
    if (failure !== undefined) throw failure;
  }

  private async handleDue(aor: string, onExpired: (n: ExpiredNotice) => Promise<void>): Promise<void> {
    for (;;) {
      const due = await this.dueNotices(aor);
      for (const { raw, notice } of due) {
        await onExpired(notice);
        await this.noticeHandled(aor, raw);
      }
      if (due.length < 100) return;
    }
  }
}
