/**
 * The accounts' usage-monitoring keys on Redis (docs/windows-and-usage.md "Usage monitoring"; TS 29.212 §4.5.16):
 * set and removed by monitoring-key-3.lua, read and reset by usage-4.lua, accumulated inside the charging scripts
 * (lua/includes/monitoring.lua). Keys and argument objects are built here and nowhere else.
 */
import type { RedisClient } from '@imc/runtime';
import type { LedgerKeys } from './ledger-keys';
import type { LedgerCommands, MonitoringKeyConfig, UsageThresholds } from './ledger-scripts';
import { answerOf, ScriptAnswer } from './script-answer';

/** A key as stored (monitoring.lua's state), and as the admin API shows it. */
export interface MonitoringKeyState extends MonitoringKeyConfig {
  /** The thresholds in force this cycle. */
  armed: UsageThresholds;
  /** The last report (or when the key was set). */
  since: string;
  before: { count: number; octets: number; sessionMs: number };
  after: { count: number; octets: number; sessionMs: number };
}

export interface MonitoringKeyView {
  monitoringKey: string;
  service: string;
  thresholds: UsageThresholds;
  armed: UsageThresholds;
  monitoringTime?: string;
  afterThresholds?: UsageThresholds;
  since: string;
}

function view(name: string, k: MonitoringKeyState): MonitoringKeyView {
  const { service, thresholds, armed, monitoringTime, afterThresholds, since } = k;
  return { monitoringKey: name, service, thresholds, armed, monitoringTime, afterThresholds, since };
}

export class MonitoringKeys {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LedgerKeys,
    private readonly scripts: LedgerCommands,
    private readonly idempotencyTtl: number,
  ) {}

  private at(subscriber: string) {
    const shard = this.keys.shardOf(subscriber);
    return { at: { subscriber, shard }, shardTag: this.keys.tag(shard) };
  }

  /** Sets a key (its usage since the last report is kept); undefined when there is no account. */
  async set(subscriber: string, name: string, config: MonitoringKeyConfig, nowMs = Date.now()): Promise<MonitoringKeyView | undefined> {
    const { at, shardTag } = this.at(subscriber);
    const r = await this.scripts.monitoringKey(at, { subscriber, name, config, atMs: nowMs, nowIso: new Date(nowMs).toISOString(), shardTag });
    return r === 0 ? undefined : view(name, JSON.parse(r) as MonitoringKeyState);
  }

  /** Removes a key, reporting its usage since the last report; undefined when there is no account. */
  async remove(subscriber: string, name: string, nowMs = Date.now()): Promise<{ removed: boolean; reportId?: string } | undefined> {
    const { at, shardTag } = this.at(subscriber);
    const r = await this.scripts.monitoringKey(at, { subscriber, name, atMs: nowMs, nowIso: new Date(nowMs).toISOString(), shardTag });
    if (r === 0) return undefined;
    const o = JSON.parse(r) as { removed: boolean; reportId?: string };
    return { removed: o.removed, ...(o.reportId ? { reportId: o.reportId } : {}) };
  }

  /** Every key of an account, by name (read only; not the hot path). */
  async list(subscriber: string): Promise<MonitoringKeyView[]> {
    const h = await this.redis.hgetall(this.keys.monitoring(subscriber));
    return Object.keys(h)
      .sort()
      .map((name) => view(name, JSON.parse(h[name]) as MonitoringKeyState));
  }

  /** ch2.usage: the usage per key since its last report; reset and rearm as the request says (usage-4.lua). */
  async usage(a: {
    requestId: string;
    subscriber: string;
    monitoringKey?: string;
    reset?: boolean;
    rearm?: UsageThresholds;
    atMs: number;
    nowMs?: number;
  }): Promise<ScriptAnswer> {
    const { at, shardTag } = this.at(a.subscriber);
    const { requestId, subscriber, monitoringKey, rearm, atMs } = a;
    const nowIso = new Date(a.nowMs ?? Date.now()).toISOString();
    const args = { requestId, idempotencyTtl: this.idempotencyTtl, subscriber, monitoringKey, reset: a.reset === true, rearm, atMs, nowIso, shardTag };
    return answerOf(await this.scripts.usage({ ...at, idempotencyId: requestId }, args));
  }
}
