/**
 * Builds the background-window module for one im-server (bootstrap.ts): the tariff's windows, the Redis store, the
 * AS registry, the negotiation service, the tagging/rating decision and the event scheduler.
 */
import { existsSync } from 'node:fs';
import type { NatsConnection, Subscription } from 'nats';
import { TariffBook } from '@imc/ch2';
import { ConfigError, RedisClient } from '@imc/runtime';
import type { ImServerConfig } from '../config';
import { AsRegistry } from './as-registry';
import { BdtStore } from './bdt-store';
import { BdtScheduler } from './bdt-scheduler';
import { BdtTagging, MessageTags } from './bdt-tagging';
import { BDT_SUBJECTS, BdtOpportunityEvent } from './bdt-types';
import { BdtService, Clock } from './bdt.service';

export interface Windows {
  service: BdtService;
  registry: AsRegistry;
  tagging: BdtTagging;
  scheduler: BdtScheduler;
  /** The scheduler's ticks, and this replica listening to the opportunities (for its own SIP subscriptions). */
  start(): void;
  stop(): Promise<void>;
}

export const systemMsClock: Clock = { now: () => Date.now() };

export function createWindows(deps: {
  config: Pick<ImServerConfig, 'keyPrefix' | 'chargingService' | 'bdt' | 'subjectPrefix'>;
  redis: RedisClient;
  nc: NatsConnection;
  messages: MessageTags;
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
  const publish = (subject: string, event: unknown) => deps.nc.publish(`${config.subjectPrefix}${subject}`, JSON.stringify(event));
  const scheduler = new BdtScheduler(store, publish, deps.mailboxChanged, clock, { tickMs: c.tickMs, leaseMs: 30000 }, (e) =>
    deps.log?.error(`background windows: events: ${e.message}`),
  );
  const service = new BdtService(
    store,
    tariff,
    { defaultCapacity: c.windowCapacityOctets, maxWindowDays: c.maxWindowDays, maxBitRateDl: c.maxBitRateDl },
    clock,
    () => scheduler.kick(),
  );
  let heard: Subscription | undefined;
  return {
    service,
    registry: new AsRegistry(redis, store.keys, c.asTokens),
    tagging: new BdtTagging(store, deps.messages, clock),
    scheduler,
    start() {
      // every replica (no queue group): each NOTIFYs the subscriptions it holds
      heard = deps.nc.subscribe(`${config.subjectPrefix}${BDT_SUBJECTS.opportunity}`, {
        callback: (_e, m) => {
          let e: BdtOpportunityEvent;
          try {
            e = JSON.parse(m.string()) as BdtOpportunityEvent;
          } catch {
            return;
          }
          void scheduler.opportunityHeard(e).catch((err: Error) => deps.log?.error(`background windows: notify: ${err.message}`));
        },
      });
      scheduler.start();
    },
    async stop() {
      heard?.unsubscribe();
      await scheduler.stop();
    },
  };
}
