/**
 * The credit ledger on Redis: every change of credit is exactly one Lua script (lua/*.lua, one file per atomic
 * operation, named with its key count as bullmq does), described by one table (ledger-scripts.ts: its KEYS by name
 * and its one argument object) and called through typed commands (ledger-commands.ts). Keys and argument objects are
 * built here and nowhere else.
 */
import { randomUUID } from 'node:crypto';
import { MAX_MONEY } from '@imc/ch2';
import { RedisClient } from '@imc/runtime';
import { LedgerKeys } from './ledger-keys';
import { defineLedgerCommands } from './ledger-commands';
import { CreateAccountArgs, DebitsArgs, LedgerCommands, UpdateAccountArgs } from './ledger-scripts';
import { answerOf, ScriptAnswer } from './script-answer';

import { MonitoringKeys } from './monitoring-keys';

export { ScriptAnswer };

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

function dayOf(iso: string): string {
  return iso.slice(0, 10).replace(/-/g, '');
}

/** Where a call's keys are (the subscriber's shard, the requestId its answer is stored under) and what every answering script is told. */
interface Call {
  at: { subscriber: string; shard: number; idempotencyId: string };
  base: { requestId: string; idempotencyTtl: number; subscriber: string };
  shardTag: string;
}

export class RedisCreditLedger {
  private readonly scripts: LedgerCommands;
  /** The accounts' usage-monitoring keys (monitoring-keys.ts). */
  readonly monitoring: MonitoringKeys;

  constructor(
    private readonly redis: RedisClient,
    readonly keys: LedgerKeys,
    private readonly idempotencyTtl: number,
  ) {
    this.scripts = defineLedgerCommands(redis, keys);
    this.monitoring = new MonitoringKeys(redis, keys, this.scripts, idempotencyTtl);
  }

  private call(subscriber: string, requestId: string, idempotencyId = requestId): Call {
    const shard = this.keys.shardOf(subscriber);
    return {
      at: { subscriber, shard, idempotencyId },
      base: { requestId, idempotencyTtl: this.idempotencyTtl, subscriber },
      shardTag: this.keys.tag(shard),
    };
  }

  newReservationId(): string {
    return randomUUID();
  }

  async reserve(a: {
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
    // the hot path: the keys' context and the argument object are plain literals (no spreads), each built once
    const { requestId, subscriber, validitySeconds, nowMs } = a;
    const shard = this.keys.shardOf(subscriber);
    const reservationId = this.newReservationId();
    const expiresAt = new Date(nowMs + validitySeconds * 1000).toISOString();
    const itemIds = a.items.map((i) => i.id);
    return answerOf(
      await this.scripts.reserve(
        { subscriber, shard, idempotencyId: requestId, reservationId },
        { requestId, idempotencyTtl: this.idempotencyTtl, subscriber, service: a.service, sessionId: a.sessionId, currency: a.currency,
          unitPrice: a.unitPrice, validitySeconds, nowMs, reservationId, expiresAt, itemIds, prices: a.prices },
      ),
    );
  }

  async debit(a: {
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
    /** The rating group the amount was priced at, written in the CDR. */
    ratingGroup?: string;
    nowIso: string;
    /** The debit's event time (the request's timestamp, ms). */
    atMs: number;
  }): Promise<ScriptAnswer> {
    const { requestId, subscriber, reservationId, nowIso } = a;
    const shard = this.keys.shardOf(subscriber);
    return answerOf(
      await this.scripts.debit(
        { subscriber, shard, idempotencyId: requestId, reservationId },
        { requestId, idempotencyTtl: this.idempotencyTtl, subscriber, reservationId, itemId: a.itemId, outcome: a.outcome, octets: a.octets,
          service: a.service, amount: a.amount, unitPrice: a.unitPrice, sessionId: a.sessionId, nowIso, shardTag: this.keys.tag(shard),
          day: dayOf(nowIso), atMs: a.atMs, ratingGroup: a.ratingGroup },
      ),
    );
  }

  /** ch2.debits: each item applied as `debit` would apply it, all in one script (debits-7.lua). */
  async debits(a: Omit<DebitsArgs, 'idempotencyTtl' | 'shardTag' | 'day'>): Promise<ScriptAnswer> {
    const shard = this.keys.shardOf(a.subscriber);
    const at = { subscriber: a.subscriber, shard, idempotencyId: a.requestId, reservationId: a.reservationId };
    return answerOf(await this.scripts.debits(at, { ...a, idempotencyTtl: this.idempotencyTtl, shardTag: this.keys.tag(shard), day: dayOf(a.nowIso) }));
  }

  async release(a: { requestId: string; subscriber: string; reservationId: string; sessionId?: string; nowMs: number; atMs: number }): Promise<ScriptAnswer> {
    const { requestId, subscriber, reservationId, nowMs } = a;
    const shard = this.keys.shardOf(subscriber);
    return answerOf(
      await this.scripts.release(
        { subscriber, shard, idempotencyId: requestId, reservationId },
        { requestId, idempotencyTtl: this.idempotencyTtl, subscriber, reservationId, sessionId: a.sessionId, nowIso: new Date(nowMs).toISOString(),
          shardTag: this.keys.tag(shard), nowMs, atMs: a.atMs },
      ),
    );
  }

  async directDebit(a: {
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
    /** The rating group every item was priced at, written in the CDR. */
    ratingGroup?: string;
    nowIso: string;
    /** The charge's event time (the request's timestamp, ms). */
    atMs: number;
  }): Promise<ScriptAnswer> {
    const { requestId, subscriber, nowIso } = a;
    const shard = this.keys.shardOf(subscriber);
    return answerOf(
      await this.scripts.directDebit(
        { subscriber, shard, idempotencyId: requestId },
        { requestId, idempotencyTtl: this.idempotencyTtl, subscriber, service: a.service, sessionId: a.sessionId, currency: a.currency,
          total: a.total, outcome: a.outcome, unitPrice: a.unitPrice, nowIso, shardTag: this.keys.tag(shard), day: dayOf(nowIso), atMs: a.atMs, ratingGroup: a.ratingGroup,
          itemIds: a.items.map((i) => i.id), prices: a.prices, octets: a.items.map((i) => i.octets) },
      ),
    );
  }

  async refund(a: { requestId: string; subscriber: string; cdrId: string; amount?: number; sessionId?: string; nowIso: string }): Promise<ScriptAnswer> {
    const { at, base, shardTag } = this.call(a.subscriber, a.requestId);
    const { cdrId, amount, sessionId, nowIso } = a;
    return answerOf(await this.scripts.refund(at, { ...base, cdrId, amount, sessionId, nowIso, shardTag, maxBalance: MAX_MONEY }));
  }

  async topUp(a: { requestId: string; subscriber: string; amount: number; nowIso: string }): Promise<ScriptAnswer> {
    const { at, base, shardTag } = this.call(a.subscriber, a.requestId, `top-up:${a.requestId}`);
    return answerOf(await this.scripts.topUp(at, { ...base, amount: a.amount, nowIso: a.nowIso, shardTag, maxBalance: MAX_MONEY }));
  }

  async createAccount(a: CreateAccountArgs): Promise<boolean> {
    return (await this.scripts.createAccount({ subscriber: a.subscriber, shard: this.keys.shardOf(a.subscriber) }, a)) === 1;
  }

  /** `null` removes a threshold, `undefined` leaves it. */
  async updateAccount(subscriber: string, u: UpdateAccountArgs): Promise<boolean> {
    return (await this.scripts.updateAccount({ subscriber, shard: this.keys.shardOf(subscriber) }, u)) === 1;
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
    for (const reservationId of due) {
      const sub = await this.redis.hget(this.keys.reservation(shard, reservationId), 'sub');
      const at = { subscriber: sub || '-', shard, reservationId };
      n += Number(await this.scripts.expire(at, { reservationId, nowMs, nowIso: new Date(nowMs).toISOString(), shardTag: this.keys.tag(shard) }));
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
