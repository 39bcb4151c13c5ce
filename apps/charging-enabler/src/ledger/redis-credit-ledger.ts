/**
 * The credit ledger on Redis: every change of credit is exactly one Lua script (lua/*.lua, one file per atomic
 * operation, named with its key count as bullmq does), loaded once with ioredis `defineCommand` and run by EVALSHA.
 * Keys and argument lists are built here and nowhere else.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { MAX_MONEY } from '@imc/ch2';
import { defineLuaScripts, RedisClient } from '@imc/runtime';
import { LedgerKeys } from './ledger-keys';
import { JsonText } from '../ch2/json-text';

const LUA_DIR = join(__dirname, 'lua');

const RESULT = /"result":"([A-Z_]+)"/;

/**
 * What a ledger script answered: the CH-2 response as the JSON text it stored for idempotent replays (sent on to the
 * caller as it is: the hot path never parses and re-serialises it), and the notifications it decided to raise.
 */
export class ScriptAnswer extends JsonText {
  private parsed?: Record<string, unknown>;

  constructor(
    /** The CH-2 response, JSON, exactly as stored under the requestId. */
    json: string,
    /** Notifications the script decided to raise (each once per crossing). */
    readonly notes: Record<string, unknown>[],
  ) {
    super(json);
  }

  /** The response's result code, read from the text (cjson writes `"result":"<CODE>"`). */
  get result(): string {
    return RESULT.exec(this.json)?.[1] ?? 'UNKNOWN';
  }

  /** The response as an object (parsed on first use). */
  get response(): Record<string, unknown> {
    return (this.parsed ??= JSON.parse(this.json) as Record<string, unknown>);
  }
}

export interface AccountRecord {
  subscriber: string;
  balance: number;
  reserved: number;
  available: number;
  currency: string;
  state: string;
  initial: number;
  totals: { topUps: number; refunds: number; debits: number };
  thresholds: { lowBalance?: number; usageCount?: number; usageOctets?: number };
  outOfCredit: string[];
  createdAt: string;
}

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

function dayOf(iso: string): string {
  return iso.slice(0, 10).replace(/-/g, '');
}

export class RedisCreditLedger {
  private readonly scripts: Record<string, ScriptFn> = {};

  constructor(
    private readonly redis: RedisClient,
    readonly keys: LedgerKeys,
    private readonly idempotencyTtl: number,
  ) {
    Object.assign(this.scripts, defineLuaScripts(redis, LUA_DIR, 'imc_ledger'));
  }

  private async answer(name: string, args: (string | number)[]): Promise<ScriptAnswer> {
    const [json, notes] = (await this.scripts[name](...args)) as [string, string];
    return new ScriptAnswer(json, notes === '[]' ? [] : JSON.parse(notes));
  }

  newReservationId(): string {
    return randomUUID();
  }

  reserve(a: {
    requestId: string;
    subscriber: string;
    service: string;
    sessionId?: string;
    currency: string;
    unitPrice: number;
    validitySeconds: number;
    items: { id: string }[];
    prices: number[];
    nowMs: number;
  }): Promise<ScriptAnswer> {
    const shard = this.keys.shardOf(a.subscriber);
    const rid = this.newReservationId();
    const expiresAt = new Date(a.nowMs + a.validitySeconds * 1000).toISOString();
    const args: (string | number)[] = [
      this.keys.account(a.subscriber, shard),
      this.keys.idempotency(a.subscriber, a.requestId, shard),
      this.keys.reservation(shard, rid),
      this.keys.expiryIndex(shard),
      a.requestId,
      this.idempotencyTtl,
      a.nowMs,
      a.validitySeconds,
      rid,
      a.currency,
      a.subscriber,
      a.service,
      a.sessionId ?? '',
      a.unitPrice,
      expiresAt,
      a.items.length,
    ];
    for (let i = 0; i < a.items.length; i++) args.push(a.items[i].id, a.prices[i]);
    return this.answer('reserve', args);
  }

  debit(a: {
    requestId: string;
    subscriber: string;
    reservationId: string;
    itemId: string;
    outcome: string;
    octets: number;
    service: string;
    amount: number;
    unitPrice: number;
    sessionId?: string;
    nowIso: string;
  }): Promise<ScriptAnswer> {
    const shard = this.keys.shardOf(a.subscriber);
    return this.answer('debit', [
      this.keys.account(a.subscriber, shard),
      this.keys.idempotency(a.subscriber, a.requestId, shard),
      this.keys.reservation(shard, a.reservationId),
      this.keys.outbox(shard),
      this.keys.charges(shard),
      this.keys.chargedMessages(shard),
      a.requestId,
      this.idempotencyTtl,
      a.reservationId,
      a.itemId,
      a.outcome,
      a.octets,
      a.subscriber,
      a.amount,
      a.unitPrice,
      a.nowIso,
      this.keys.tag(shard),
      dayOf(a.nowIso),
      a.sessionId ?? '',
      a.service,
    ]);
  }

  release(a: { requestId: string; subscriber: string; reservationId: string; sessionId?: string; nowIso: string }): Promise<ScriptAnswer> {
    const shard = this.keys.shardOf(a.subscriber);
    return this.answer('release', [
      this.keys.account(a.subscriber, shard),
      this.keys.idempotency(a.subscriber, a.requestId, shard),
      this.keys.reservation(shard, a.reservationId),
      this.keys.expiryIndex(shard),
      this.keys.outbox(shard),
      a.requestId,
      this.idempotencyTtl,
      a.reservationId,
      a.subscriber,
      a.nowIso,
      this.keys.tag(shard),
      a.sessionId ?? '',
    ]);
  }

  directDebit(a: {
    requestId: string;
    subscriber: string;
    service: string;
    sessionId?: string;
    currency: string;
    total: number;
    /** The messages charged, each with its rated price; one already charged is left out by the script. */
    items: { id: string; octets: number }[];
    prices: number[];
    /** The outcome that caused the charge (the direct-debit fallback of a debit, a deferred charge). */
    outcome?: string;
    unitPrice: number;
    nowIso: string;
  }): Promise<ScriptAnswer> {
    const shard = this.keys.shardOf(a.subscriber);
    const args: (string | number)[] = [
      this.keys.account(a.subscriber, shard),
      this.keys.idempotency(a.subscriber, a.requestId, shard),
      this.keys.outbox(shard),
      this.keys.charges(shard),
      this.keys.chargedMessages(shard),
      a.requestId,
      this.idempotencyTtl,
      a.subscriber,
      a.service,
      a.sessionId ?? '',
      a.currency,
      a.total,
      a.items.length,
      a.outcome ?? '',
      a.unitPrice,
      a.nowIso,
      this.keys.tag(shard),
      dayOf(a.nowIso),
    ];
    for (let i = 0; i < a.items.length; i++) args.push(a.items[i].id, a.prices[i], a.items[i].octets);
    return this.answer('direct-debit', args);
  }

  refund(a: { requestId: string; subscriber: string; cdrId: string; amount?: number; sessionId?: string; nowIso: string }): Promise<ScriptAnswer> {
    const shard = this.keys.shardOf(a.subscriber);
    return this.answer('refund', [
      this.keys.account(a.subscriber, shard),
      this.keys.idempotency(a.subscriber, a.requestId, shard),
      this.keys.outbox(shard),
      this.keys.charges(shard),
      this.keys.chargedMessages(shard),
      a.requestId,
      this.idempotencyTtl,
      a.cdrId,
      a.amount ?? '',
      a.subscriber,
      a.nowIso,
      this.keys.tag(shard),
      a.sessionId ?? '',
      MAX_MONEY,
    ]);
  }

  topUp(a: { requestId: string; subscriber: string; amount: number; nowIso: string }): Promise<ScriptAnswer> {
    const shard = this.keys.shardOf(a.subscriber);
    return this.answer('top-up', [
      this.keys.account(a.subscriber, shard),
      this.keys.idempotency(a.subscriber, `top-up:${a.requestId}`, shard),
      this.keys.outbox(shard),
      a.requestId,
      this.idempotencyTtl,
      a.amount,
      a.subscriber,
      a.nowIso,
      this.keys.tag(shard),
      MAX_MONEY,
    ]);
  }

  async createAccount(a: {
    subscriber: string;
    balance: number;
    currency: string;
    nowIso: string;
    lowBalance?: number;
    usageCount?: number;
    usageOctets?: number;
  }): Promise<boolean> {
    const r = await this.scripts['create-account'](
      this.keys.account(a.subscriber),
      a.subscriber,
      a.balance,
      a.currency,
      a.nowIso,
      a.lowBalance ?? '',
      a.usageCount ?? '',
      a.usageOctets ?? '',
    );
    return r === 1;
  }

  /** `null` removes a threshold, `undefined` leaves it. */
  async updateAccount(
    subscriber: string,
    u: { state?: string; lowBalance?: number | null; usageCount?: number | null; usageOctets?: number | null },
  ): Promise<boolean> {
    const t = (v: number | null | undefined) => (v === null ? '-' : v === undefined ? '' : v);
    const r = await this.scripts['update-account'](
      this.keys.account(subscriber),
      u.state ?? '',
      t(u.lowBalance),
      t(u.usageCount),
      t(u.usageOctets),
    );
    return r === 1;
  }

  async account(subscriber: string): Promise<AccountRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.account(subscriber));
    return h && h.sub ? toAccount(h) : undefined;
  }

  /** The fields of the hot balance read, without the rest of the hash. */
  async balanceOf(subscriber: string): Promise<{ balance: number; reserved: number; currency: string; state: string } | undefined> {
    const [b, r, c, s] = await this.redis.hmget(this.keys.account(subscriber), 'balance', 'reserved', 'currency', 'state');
    if (b === null) return undefined;
    return { balance: Number(b), reserved: Number(r), currency: c ?? '', state: s ?? '' };
  }

  /** Expires every reservation of a shard whose validity has passed; returns how many this call expired. */
  async expireDue(shard: number, nowMs: number, batch = 200): Promise<number> {
    const due = await this.redis.zrangebyscore(this.keys.expiryIndex(shard), '-inf', nowMs, 'LIMIT', 0, batch);
    let n = 0;
    for (const rid of due) {
      const resKey = this.keys.reservation(shard, rid);
      const sub = await this.redis.hget(resKey, 'sub');
      const acct = sub ? this.keys.account(sub, shard) : this.keys.account('-', shard);
      n += Number(
        await this.scripts['expire'](acct, resKey, this.keys.expiryIndex(shard), this.keys.outbox(shard), rid, nowMs, new Date(nowMs).toISOString()),
      );
    }
    return n;
  }

  /** Number of open reservations (for metrics). */
  async openReservations(): Promise<number> {
    let n = 0;
    for (let s = 0; s < this.keys.shards; s++) n += await this.redis.zcard(this.keys.expiryIndex(s));
    return n;
  }

  /** Every account record (SCAN; for reports and reconciliation, not the hot path). */
  async allAccounts(): Promise<AccountRecord[]> {
    const out: AccountRecord[] = [];
    const nodes = 'nodes' in this.redis && typeof this.redis.nodes === 'function' ? this.redis.nodes('master') : [this.redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', this.keys.accountPattern(), 'COUNT', 500);
        cursor = next;
        for (const k of keys) {
          const h = await node.hgetall(k);
          if (h.sub) out.push(toAccount(h));
        }
      } while (cursor !== '0');
    }
    return out;
  }
}

function toAccount(h: Record<string, string>): AccountRecord {
  const balance = Number(h.balance);
  const reserved = Number(h.reserved);
  const ooc = Object.keys(h)
    .filter((k) => k.startsWith('ooc:'))
    .map((k) => k.slice(4));
  const opt = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  return {
    subscriber: h.sub,
    balance,
    reserved,
    available: balance - reserved,
    currency: h.currency,
    state: h.state,
    initial: Number(h.initial),
    totals: { topUps: Number(h['sum:topup'] ?? 0), refunds: Number(h['sum:refund'] ?? 0), debits: Number(h['sum:debit'] ?? 0) },
    thresholds: { lowBalance: opt(h['thr:low']), usageCount: opt(h['thr:count']), usageOctets: opt(h['thr:octets']) },
    outOfCredit: ooc,
    createdAt: h.created,
  };
}
