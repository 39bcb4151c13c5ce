/**
 * Builds the background-window module for one im-server (bootstrap.ts): the tariff's windows, the Redis store, the
 * AS registry, the negotiation service, the tagging/rating decision and the event scheduler.
 */
import { existsSync } from 'node:fs';
import { TariffBook } from '@imc/ch2';
import { ConfigError, RedisClient } from '@imc/runtime';
import type { ImServerConfig } from '../config';
import { AsRegistry } from './as-registry';
import { BdtStore } from './bdt-store';
import { BdtScheduler } from './bdt-scheduler';
import { BdtTagging, MessageTags } from './bdt-tagging';
import type { BdtEvent } from './bdt-types';
import { BdtService, Clock } from './bdt.service';

export interface Windows {
  service: BdtService;
  registry: AsRegistry;
  tagging: BdtTagging;
  scheduler: BdtScheduler;
}

export const systemMsClock: Clock = { now: () => Date.now() };

export function createWindows(deps: {
  config: Pick<ImServerConfig, 'keyPrefix' | 'chargingService' | 'bdt'>;
  redis: RedisClient;
  messages: MessageTags;
  publish: (subject: string, event: BdtEvent) => void | Promise<void>;
  mailboxChanged: (aor: string) => void;
  clock?: Clock;
  log?: { warn(m: string): void; error(m: string): void };
}): Windows {
  const { config, redis } = deps;
  const clock = deps.clock ?? systemMsClock;
  const c = config.bdt;
  let tariff;
  if (c.tariffsFileRequired || existsSync(c.tariffsFile)) {
    try {
      tariff = TariffBook.fromFile(c.tariffsFile).get(config.chargingService);
    } catch (e) {
      throw new ConfigError('BDT_TARIFFS_FILE', (e as Error).message);
    }
    if (!tariff) deps.log?.warn(`${c.tariffsFile} has no tariff for ${config.chargingService}: background windows cannot be negotiated`);
  } else {
    deps.log?.warn(`no tariff file at ${c.tariffsFile} (BDT_TARIFFS_FILE): background windows cannot be negotiated`);
  }
  const store = new BdtStore(redis, config.keyPrefix);
  const scheduler = new BdtScheduler(store, deps.publish, deps.mailboxChanged, clock, { tickMs: c.tickMs, leaseMs: 30000 }, (e) =>
    deps.log?.error(`background windows: events: ${e.message}`),
  );
  const service = new BdtService(
    store,
    tariff,
    { defaultCapacity: c.windowCapacityOctets, maxWindowDays: c.maxWindowDays, maxBitRateDl: c.maxBitRateDl },
    clock,
    () => scheduler.kick(),
  );
  return { service, registry: new AsRegistry(redis, store.keys, c.asTokens), tagging: new BdtTagging(store, deps.messages, clock), scheduler };
}
