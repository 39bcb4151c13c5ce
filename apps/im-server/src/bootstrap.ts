/**
 * Starts one im-server: SIP (UDP/TCP/WS) and MSRP (TCP/WS) listeners, the CH-2 client with its durable retry
 * queue, the NATS deposit subject, the expiry sweeper, and the admin HTTP API. Used by main.ts and by tests.
 */
import 'reflect-metadata';
import { ConsoleLogger, INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { connect, NatsConnection } from 'nats';
import { Ch2Client } from '@imc/ch2';
import { createRedis, Env, NEST_LOG_LEVELS, natsServers, readinessProbes, RedisClient } from '@imc/runtime';
import { ImServerConfig, loadImServerConfig } from './config';
import { ImModule } from './im.module';
import { DeferredStore } from './store/deferred-store';
import { UserStore } from './store/user-store';
import { DepositService } from './deposit/deposit.service';
import { ImMetrics } from './observability/im-metrics';
import { SipServer } from './sip/sip-server';
import { RetrievalService } from './retrieval/retrieval.service';
import { ChargingGateway } from './charging/charging-gateway';
import { ChargingRetryQueue } from './charging/charging-retry-queue';

export interface RunningImServer {
  app: INestApplication;
  config: ImServerConfig;
  httpPort: number;
  sipUdpPort: number;
  sipTcpPort: number;
  sipWsPort: number;
  sipTlsPort: number;
  sipWssPort: number;
  msrpTcpPort: number;
  msrpWsPort: number;
  store: DeferredStore;
  users: UserStore;
  retryQueue: ChargingRetryQueue;
  charging: ChargingGateway;
  retrieval: RetrievalService;
  /** The SIP front (tests read the sizes of its bounded maps). */
  sip: SipServer;
  redis: RedisClient;
  close(): Promise<void>;
}



/** dist/apps/web-client/public under the project root (the nearest directory up with a package.json). */
function builtWebClientDir(): string | undefined {
  let d = __dirname;
  while (!existsSync(join(d, 'package.json')) && dirname(d) !== d) d = dirname(d);
  const dir = join(d, 'dist', 'apps', 'web-client', 'public');
  return existsSync(dir) ? dir : undefined;
}

export async function startImServer(env: Env): Promise<RunningImServer> {
  const config = loadImServerConfig(env);
  const logger = new ConsoleLogger('im-server', { json: true, logLevels: NEST_LOG_LEVELS[config.logLevel] });
  const redis = createRedis(config.redisUrl, { batchWrites: true });
  redis.on('error', (e: Error) => logger.error(`redis: ${e.message}`));
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: natsServers(config.natsUrl), name: 'im-server', maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true });
  } catch (e) {
    redis.disconnect();
    throw new Error(`cannot connect to NATS at ${config.natsUrl} (NATS_URL): ${(e as Error).message}`);
  }

  const metrics = new ImMetrics();
  const store = new DeferredStore(redis, config.keyPrefix, {
    maxMessageBytes: config.maxMessageBytes,
    userMaxMessages: config.userMaxMessages,
    userMaxBytes: config.userMaxBytes,
    ttlSeconds: config.messageTtlSeconds,
  });
  const users = new UserStore(redis, config.keyPrefix);
  const ch2 = new Ch2Client(nc, { subjectPrefix: config.subjectPrefix, timeoutMs: config.chargingTimeoutMs, retries: config.chargingRetries });
  const retryQueue = new ChargingRetryQueue(
    redis,
    config.keyPrefix,
    ch2,
    config.retryIntervalMs,
    (q, result) => logger.log(`retry queue: ${q.op} ${q.req.requestId} answered ${result}`),
    (q, e) => logger.error(`retry queue: ${q.op} ${q.req.requestId} failed (${e.message}); parked, will retry later`),
  );
  const charging = new ChargingGateway(ch2, retryQueue, config.chargingService, config.reservationValiditySeconds, (s, r, t) => metrics.observeCh2(s, r, t));
  const sipLog = { log: (m: string) => logger.log(m), warn: (m: string) => logger.warn(m), error: (m: string) => logger.error(m) };
  const sip = new SipServer(config, store, users, metrics, sipLog);
  const retrieval = new RetrievalService(config, sip, store, charging, metrics, (m) => logger.log(m));
  sip.retrieval = retrieval;
  const deposits = new DepositService(store, config.domain, (aor) => void sip.notifyWaiting(aor));

  const readiness = {
    ...readinessProbes(redis, nc),
    sample: async () => {
      metrics.retryQueue.set(await retryQueue.depth());
      metrics.sessions.set(retrieval.activeSessions);
    },
  };

  const app = await NestFactory.create<NestExpressApplication>(ImModule.forRoot({ config, store, users, deposits, metrics, readiness, balance: (aor) => charging.balance(aor) }), {
    logger: config.logLevel === 'silent' ? false : logger,
    abortOnError: false,
  });
  // the browser client (apps/web-client, built by `npm run build`) at /client
  const webDir = config.webClientDir ?? builtWebClientDir();
  if (webDir && existsSync(join(webDir, 'index.html'))) app.useStaticAssets(webDir, { prefix: '/client', index: 'index.html' });
  const doc = new DocumentBuilder()
    .setTitle('IM Charging — im-server admin API')
    .setDescription('SIP users (digest credentials), deferred messages, deposits.')
    .addBearerAuth()
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc));

  await retrieval.start();
  await sip.start();
  // NATS deposit subject for other IM components (retrieval-flow.md "Deposit")
  const depositSub = nc.subscribe(`${config.subjectPrefix}im.deferred.deposit`, {
    queue: 'im-server',
    callback: (_e, m) => {
      let data: unknown;
      try {
        data = JSON.parse(new TextDecoder().decode(m.data));
      } catch {
        data = undefined;
      }
      const payload = (data as { data?: unknown; pattern?: unknown })?.pattern !== undefined ? (data as { data?: unknown }).data : data;
      void deposits.deposit(payload).then(
        (r) => m.respond(new TextEncoder().encode(JSON.stringify(r))),
        (e: Error) => m.respond(new TextEncoder().encode(JSON.stringify({ ok: false, status: 500, error: e.message }))),
      );
    },
  });
  retryQueue.start();
  const sweeper = setInterval(() => void store.sweepExpired().catch(() => undefined), config.expirySweepMs);
  sweeper.unref();
  if (!config.adminToken) logger.warn('ADMIN_TOKEN is not set: the admin API is open (development only)');
  if (config.auth === 'none') logger.warn('SIP_AUTH=none: identities are taken from the From header — development only, never in production');
  await app.listen(config.httpPort, config.httpHost);
  const addr = app.getHttpServer().address();
  const httpPort = typeof addr === 'object' && addr ? addr.port : config.httpPort;
  logger.log(
    `im-server ready: SIP udp:${sip.ports.udp} tcp:${sip.ports.tcp} ws:${sip.ports.ws}, MSRP tcp:${retrieval.ports.tcp} ws:${retrieval.ports.ws}, admin HTTP :${httpPort}, domain ${config.domain}, policy ${config.chargingPolicy}`,
  );

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      sip.drain();
      await retrieval.shutdown(config.shutdownDeadlineMs);
      clearInterval(sweeper);
      await retryQueue.stop();
      depositSub.unsubscribe();
      await sip.close();
      await app.close();
      await nc.drain().catch(() => undefined);
      await Promise.race([redis.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 500).unref())]);
      redis.disconnect();
    })());

  return {
    app,
    config,
    httpPort,
    sipUdpPort: sip.ports.udp,
    sipTcpPort: sip.ports.tcp,
    sipWsPort: sip.ports.ws,
    sipTlsPort: sip.ports.tls,
    sipWssPort: sip.ports.wss,
    msrpTcpPort: retrieval.ports.tcp,
    msrpWsPort: retrieval.ports.ws,
    store,
    users,
    retryQueue,
    charging,
    retrieval,
    sip,
    redis,
    close,
  };
}
