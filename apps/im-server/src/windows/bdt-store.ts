/**
 * The Redis adapter of the background-window module: resources, bookings, per-user use and due events. Every
 * change that must hold across replicas is one Lua script of lua/ (select, cancel, consume, claim).
 */
import { join } from 'node:path';
import { defineLuaScripts, LuaFn, RedisClient } from '@imc/runtime';
import { BdtKeys } from './bdt-keys';
import type { BdtNegotiation, BdtResource, BdtState } from './bdt-types';

export type SelectCode = 'selected' | 'already' | 'unknown' | 'no-capacity' | 'other-selected' | 'cancelled';
const SELECT: Record<number, SelectCode> = { 1: 'selected', 2: 'already', [-1]: 'unknown', [-2]: 'no-capacity', [-3]: 'other-selected', [-4]: 'cancelled' };

export class BdtStore {
  readonly keys: BdtKeys;
  private readonly lua: Record<string, LuaFn>;

  constructor(private readonly redis: RedisClient, prefix: string) {
    this.keys = new BdtKeys(prefix);
    this.lua = defineLuaScripts(redis, join(__dirname, 'lua'), 'imc_bdt');
  }

  async create(doc: BdtNegotiation): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.resource(doc.bdtReferenceId), 'doc', JSON.stringify(doc), 'state', 'offered')
      .sadd(this.keys.ids, doc.bdtReferenceId)
      .exec();
  }

  async get(id: string): Promise<(BdtResource & { windowId?: string }) | undefined> {
    const [doc, state, selected, reason, windowId] = await this.redis.hmget(this.keys.resource(id), 'doc', 'state', 'selected', 'reason', 'windowId');
    if (!doc) return undefined;
    return {
      ...(JSON.parse(doc) as BdtNegotiation),
      state: state as BdtState,
      ...(selected ? { selectedPolicy: Number(selected) } : {}),
      ...(reason ? { reason } : {}),
      ...(windowId ? { windowId } : {}),
    };
  }

  async allIds(): Promise<string[]> {
    return this.redis.smembers(this.keys.ids);
  }

  /** Booked octets and operator capacity (undefined: the default) of each window. */
  async bookings(windowIds: string[]): Promise<{ booked: number; capacity?: number }[]> {
    if (!windowIds.length) return [];
    const [booked, caps] = await Promise.all([this.redis.hmget(this.keys.booked, ...windowIds), this.redis.hmget(this.keys.capacity, ...windowIds)]);
    return windowIds.map((_, i) => ({ booked: Number(booked[i] ?? 0), ...(caps[i] !== null ? { capacity: Number(caps[i]) } : {}) }));
  }

  async select(a: { id: string; policyId: number; windowId: string; volume: number; defaultCapacity: number; nowMs: number; openEvent: string; openAtMs: number }): Promise<{ code: SelectCode; left: number }> {
    const k = this.keys;
    const [code, left] = (await this.lua.select(
      k.resource(a.id), k.booked, k.capacity, k.window(a.windowId), k.due,
      a.id, a.policyId, a.windowId, a.volume, a.defaultCapacity, a.nowMs, a.openEvent, a.openAtMs,
    )) as [number, number];
    return { code: SELECT[code], left };
  }

  /** Returns whether the resource was there (and, for a withdrawal, selected), and whether an error event was queued. */
  async cancel(a: { id: string; windowId: string; mode: 'delete' | 'withdraw'; nowMs: number; errorEvent: string; startMs: number; stopMs: number; reason: string }): Promise<{ done: boolean; errorQueued: boolean }> {
    const k = this.keys;
    const [done, queued] = (await this.lua.cancel(
      k.resource(a.id), k.booked, k.ids, k.due, k.window(a.windowId),
      a.id, a.mode, a.nowMs, a.errorEvent, a.startMs, a.stopMs, a.reason,
    )) as [number, number];
    if (done && a.mode === 'delete') await this.redis.del(k.use(a.id), k.users(a.id));
    return { done: done === 1, errorQueued: queued === 1 };
  }

  /** Sets a window's capacity; returns what is booked in it. */
  async setCapacity(windowId: string, octets: number): Promise<number> {
    const [, booked] = (await this.redis.multi().hset(this.keys.capacity, windowId, octets).hget(this.keys.booked, windowId).exec()) ?? [];
    return Number((booked?.[1] as string | null) ?? 0);
  }

  /** The resource booked last in a window (the first to cancel when capacity is withdrawn). */
  async latestIn(windowId: string): Promise<string | undefined> {
    return (await this.redis.zrevrange(this.keys.window(windowId), 0, 0))[0];
  }

  /** Forgets a resource id left in a window's index (its resource hash is gone). */
  async dropFromWindow(windowId: string, id: string): Promise<void> {
    await this.redis.zrem(this.keys.window(windowId), id);
  }

  /** Per message: within the booking (see consume-1.lua). */
  async consume(id: string, aor: string, perUe: number, users: number, expireAtMs: number, items: { id: string; octets: number }[]): Promise<boolean[]> {
    const args: (string | number)[] = [];
    for (const it of items) args.push(it.id, it.octets);
    const r = (await this.lua.consume(this.keys.use(id), aor, perUe, users, expireAtMs, ...args)) as number[];
    return r.map((x) => x === 1);
  }

  async addUser(id: string, aor: string, expireAtMs: number): Promise<void> {
    await this.redis.multi().sadd(this.keys.users(id), aor).pexpireat(this.keys.users(id), expireAtMs).exec();
  }

  async usersOf(id: string): Promise<string[]> {
    return this.redis.smembers(this.keys.users(id));
  }

  async claim(nowMs: number, leaseMs: number, limit: number): Promise<string[]> {
    return (await this.lua.claim(this.keys.due, this.keys.claimed, nowMs, leaseMs, limit)) as string[];
  }

  async ack(event: string): Promise<void> {
    await this.redis.zrem(this.keys.claimed, event);
  }

  /** When the next event is due (epoch ms), if any. */
  async nextDue(): Promise<number | undefined> {
    const r = await this.redis.zrange(this.keys.due, 0, 0, 'WITHSCORES');
    return r.length ? Number(r[1]) : undefined;
  }
}
