/**
 * The deferred-message store on Redis (retrieval-flow.md "Deposit"): per user, messages in arrival order with
 * metadata and the body bytes verbatim, caps checked atomically at deposit, expiry, deletion only after a
 * confirmed delivery. All keys of one user share the hash tag `{<aor>}`.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { defineLuaScripts, LuaFn, RedisClient } from '@imc/runtime';

export interface DepositInput {
  from: string;
  to: string;
  contentType: string;
  body: Uint8Array;
  imdnMessageId?: string;
  disposition?: string;
  receivedAt?: Date;
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
  bdtReferenceId?: string;
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

const META = ['from', 'to', 'ct', 'octets', 'at', 'exp', 'imdn', 'disp', 'bdt'] as const;

export class DeferredStore {
  private readonly lua: Record<string, LuaFn>;

  constructor(private readonly redis: RedisClient, private readonly prefix: string, private readonly limits: StoreLimits) {
    this.lua = defineLuaScripts(redis, join(__dirname, 'lua'), 'imc_store');
  }

  private keys(aor: string) {
    const t = `{${aor}}`;
    return {
      order: `${this.prefix}dm:order:${t}`,
      expiry: `${this.prefix}dm:exp:${t}`,
      octets: `${this.prefix}dm:oct:${t}`,
      usage: `${this.prefix}dm:use:${t}`,
      msg: (id: string) => `${this.prefix}dm:msg:${t}:${id}`,
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

  /** Pattern of every user's order index (for the expiry sweeper). */
  orderPattern(): string {
    return `${this.prefix}dm:order:*`;
  }

  aorFromOrderKey(key: string): string | undefined {
    const m = /dm:order:\{(.+)\}$/.exec(key);
    return m?.[1];
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
    if (m.bdtReferenceId) fields.push('bdt', m.bdtReferenceId);
    const [code, n] = (await this.lua.deposit(
      k.order, k.msg(id), k.usage, k.expiry, k.octets,
      id, m.body.length, this.limits.userMaxMessages, this.limits.userMaxBytes, exp, ...fields,
    )) as [number, number];
    if (code === -1) return { ok: false, status: 486, reason: `mailbox full: ${n} messages waiting (limit ${this.limits.userMaxMessages})` };
    if (code === -2) return { ok: false, status: 486, reason: `mailbox full: ${n} bytes waiting (limit ${this.limits.userMaxBytes})` };
    return { ok: true, id, count: n };
  }

  /** Pending message ids, oldest first (expired ones are dropped on the way). */
  async pendingIds(aor: string, limit = 100000): Promise<string[]> {
    const k = this.keys(aor);
    return (await this.lua.pending(k.order, k.expiry, k.octets, k.usage, Date.now(), limit)) as string[];
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
        ...(r[8] ? { bdtReferenceId: r[8] } : {}),
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
    return (await this.lua.delete(k.order, k.expiry, k.octets, k.usage, k.msg(id), id)) === 1;
  }

  async count(aor: string): Promise<number> {
    return Number((await this.redis.hget(this.keys(aor).usage, 'count')) ?? 0);
  }

  /** Runs the expiry cleanup over every user with messages (the sweeper). Returns how many users were visited. */
  async sweepExpired(): Promise<number> {
    let n = 0;
    const nodes = 'nodes' in this.redis && typeof this.redis.nodes === 'function' ? this.redis.nodes('master') : [this.redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', this.orderPattern(), 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          const aor = this.aorFromOrderKey(key);
          if (aor) {
            await this.pendingIds(aor, 1);
            n++;
          }
        }
      } while (cursor !== '0');
    }
    return n;
  }
}
