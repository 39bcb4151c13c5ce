/**
 * Starts one Charging Enabler: a Nest hybrid app serving CH-2 over NATS (queue group `charging-enabler`) and the
 * admin HTTP API, plus the CDR relay and the reservation sweeper. Used by main.ts and by tests.
 */
import 'reflect-metadata';
import { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { connect, NatsConnection } from 'nats';
import { CH2_OPERATIONS, CH2_QUEUE_GROUP, ch2Subject } from '@imc/ch2';
import { createRedis, Env, NEST_LOG_LEVELS, readinessProbes, redactUrl, RedisClient, ServiceLogger, StorageUnavailableFilter } from '@imc/runtime';
import { EnablerConfig, loadEnablerConfig } from './config';
import { EnablerModule } from './enabler.module';
import { LedgerKeys } from './ledger/ledger-keys';
import { RedisCreditLedger } from './ledger/redis-credit-ledger';
import { ReservationSweeper } from './ledger/reservation-sweeper';
import { TariffBook } from './rating/tariff-book';
import { ChargingService } from './ch2/charging.service';
import { Notifier } from './ch2/notifier';
import { CdrStore } from './cdr/cdr-store';
import { RelayRunner, RelaySettings, startRelayInline, startRelayThread, threadedRelayAvailable } from './cdr/relay-thread';
import { Ch2NatsServer } from './ch2/ch2-nats.server';
import { DAY_MS } from './cdr/cdr-retention';
import type { RepublishResult } from './cdr/cdr-recovery';
import { EnablerMetrics } from './observability/enabler-metrics';

export interface RunningEnabler {
  app: INestApplication;
  config: EnablerConfig;
  httpPort: number;
  ledger: RedisCreditLedger;
  cdrs: CdrStore;
  relay: RelayRunner;
  sweeper: ReservationSweeper;
  redis: RedisClient;
  close(): Promise<void>;
}



/** Modules other parts add to the enabler (the billing reports register here). */
export const ENABLER_EXTRA_MODULES: Type<unknown>[] = [];

export async function startChargingEnabler(env: Env, extraModules: Type<unknown>[] = ENABLER_EXTRA_MODULES): Promise<RunningEnabler> {
  const config = loadEnablerConfig(env);
  const logger = new ServiceLogger('charging-enabler', { format: config.logFormat, logLevels: NEST_LOG_LEVELS[config.logLevel] });
  const tariffs = TariffBook.fromFile(config.tariffsFile);
  const redis = createRedis(config.redis, { batchWrites: true });
  redis.on('error', (e: Error) => logger.error(`redis: ${e.message}`));
  let nc: NatsConnection;
  try {
    nc = await connect({ ...config.nats, name: 'charging-enabler', maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true });
  } catch (e) {
    redis.disconnect();
    throw new Error(`cannot connect to NATS at ${redactUrl(config.natsUrl)} (NATS_URL): ${(e as Error).message}`);
  }

  const keys = new LedgerKeys(config.keyPrefix, config.ledgerShards);
  const ledger = new RedisCreditLedger(redis, keys, config.idempotencyTtlSeconds);
  const metrics = new EnablerMetrics();
  const notifier = new Notifier(() => nc, config.subjectPrefix);
  const charging = new ChargingService(config, ledger, tariffs, notifier, metrics, logger);
  const cdrs = new CdrStore(redis, keys);
  const relaySettings: RelaySettings = {
    redis: config.redis,
    nats: config.nats,
    keyPrefix: config.keyPrefix,
    shards: config.ledgerShards,
    relay: {
      subjectPrefix: config.subjectPrefix,
      stream: config.cdrStream,
      intervalMs: config.relayIntervalMs,
      duplicateWindowSeconds: config.cdrDuplicateWindowSeconds,
      replicas: config.cdrStreamReplicas,
      retentionMs: config.cdrRetentionDays * DAY_MS,
      markMs: config.chargeOnceDays * DAY_MS,
    },
  };
  const relayEvents = {
    onRelayed: (n: number) => metrics.cdrsRelayed.inc(n),
    onError: (e: Error) => logger.warn(`cdr relay: ${e.message} (will retry)`),
    onRecovered: (r: RepublishResult) =>
      logger.warn(
        `cdr relay: JetStream lacked CDRs it had acknowledged; re-published ${r.republished} of ${r.checked} compared (${r.duplicates} refused as duplicates; shards ${r.shards.join(',')})`,
      ),
    onTrimmed: (n: number) => logger.log(`cdr retention: ${n} CDRs older than ${config.cdrRetentionDays} days left the Redis outbox`),
  };
  const sweeper = new ReservationSweeper(
    ledger,
    config.expirySweepMs,
    (n) => metrics.reservationsExpired.inc(n),
    (e) => logger.warn(`reservation sweeper: ${e.message} (will retry)`),
  );
  const readiness = {
    ...readinessProbes(redis, nc),
  };

  const app = await NestFactory.create(EnablerModule.forRoot({ config, redis, ledger, tariffs, charging, notifier, cdrs, metrics, readiness }, extraModules), {
    logger: config.logLevel === 'silent' ? false : logger,
    abortOnError: false,
  });
  const server = new Ch2NatsServer({
    connection: config.nats,
    name: 'charging-enabler-ch2',
    queue: CH2_QUEUE_GROUP,
    graceMs: config.shutdownGraceMs,
  });
  for (const op of CH2_OPERATIONS) {
    server.addHandler(ch2Subject(op, config.subjectPrefix), (data: unknown) => charging.handle(op, data), false);
  }
  app.connectMicroservice({ strategy: server });

  const doc = new DocumentBuilder()
    .setTitle('IM Charging — Charging Enabler admin API')
    .setDescription('Accounts, top-ups, CDRs, tariffs and billing reports. Amounts are integers in the account currency minor unit.')
    .addBearerAuth()
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc));

  if (!config.adminToken) logger.warn('ADMIN_TOKEN is not set: the admin API is open (development only)');
  await app.startAllMicroservices();
  app.useGlobalFilters(new StorageUnavailableFilter(app.getHttpAdapter()));
  await app.listen(config.httpPort, config.httpHost);
  const addr = app.getHttpServer().address();
  const httpPort = typeof addr === 'object' && addr ? addr.port : config.httpPort;
  const relay =
    config.relayThread && threadedRelayAvailable()
      ? await startRelayThread(relaySettings, relayEvents)
      : startRelayInline(redis, keys, nc, relaySettings, relayEvents);
  sweeper.start();
  logger.log(`charging enabler ready: CH-2 on ${ch2Subject('reserve', config.subjectPrefix).replace(/reserve$/, '*')} (queue ${CH2_QUEUE_GROUP}), admin HTTP on :${httpPort}, CDR relay ${relay.threaded ? 'on its own thread' : 'on the main thread'}`);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await app.close(); // stops taking CH-2 requests (grace period for those in flight), then HTTP
      await Promise.all([sweeper.stop(), relay.stop()]);
      await nc.drain().catch(() => undefined);
      // QUIT waits for a reachable server; a Redis that is down must not hold the process open.
      await Promise.race([redis.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 500).unref())]);
      redis.disconnect();
    })());
  return { app, config, httpPort, ledger, cdrs, relay, sweeper, redis, close };
}
