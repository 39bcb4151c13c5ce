/**
 * Starts one im-server: SIP (UDP/TCP/WS) and MSRP (TCP/WS) listeners, the CH-2 client with its durable retry
 * queue, the NATS deposit subject, the expiry sweeper, and the admin HTTP API. Used by main.ts and by tests.
 */
import 'reflect-metadata';
import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { connect, NatsConnection } from 'nats';
import { Ch2Client } from '@imc/ch2';
import { createRedis, Env, NEST_LOG_LEVELS, readinessProbes, redactUrl, RedisClient, ServiceLogger, StorageUnavailableFilter } from '@imc/runtime';
import { ImServerConfig, loadImServerConfig } from './config';
import { ImModule } from './im.module';
import { DeferredStore } from './store/deferred-store';
import { UserStore } from './store/user-store';
import { ExpirySweeper } from './store/expiry-sweeper';
import { DepositService } from './deposit/deposit.service';
import { ImMetrics } from './observability/im-metrics';
import { SipFront } from './sip/sip-front';
import { SipRouter } from './sip/sip-router';
import { OptionsHandler } from './sip/handlers/options.handler';
import { RegistrarHandler } from './sip/handlers/registrar.handler';
import { PagerHandler } from './sip/handlers/pager.handler';
import { MessageSummaryHandler } from './sip/handlers/message-summary.handler';
import { RetrievalGateHandler } from './sip/handlers/retrieval-gate.handler';
import { nodeDigestCrypto } from './auth/node-digest-crypto';
import { DigestServer, systemClock } from '@imc/sip';
import { AuthKeys } from './auth/auth-keys';
import { RedisNonceCounts } from './auth/redis-nonce-counts';
import { LoginThrottle } from './auth/login-throttle';
import { SipAuthenticator } from './auth/sip-authenticator';
import { RetrievalService } from './retrieval/retrieval.service';
import { ChargingGateway } from './charging/charging-gateway';
import { ChargingRetryQueue } from './charging/charging-retry-queue';
import { DeferredQuoter } from './aoc/deferred-quote';
import { ReceiptSender } from './receipts/receipt-sender';
import { ReceiptService } from './receipts/receipt.service';
import { createWindows, Windows } from './windows/windows';

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
  /** The msrps listener's port (0 when no certificate is configured). */
  msrpTlsPort: number;
  store: DeferredStore;
  users: UserStore;
  retryQueue: ChargingRetryQueue;
  charging: ChargingGateway;
  retrieval: RetrievalService;
  /** IMDN receipts back to senders (receipts/): `delivered` after an MSRP 200 OK, `failed` from the expiry sweep. */
  receipts: ReceiptService;
  /** Background retrieval windows (windows/). */
  windows: Windows;
  /** The SIP front (tests read the sizes of its bounded maps). */
  sip: SipFront;
  redis: RedisClient;
  close(): Promise<void>;
}



/**
 * The built browser client: beside this compiled file (dist/apps/im-server/src → dist/apps/web-client/public), which
 * is all an image holds; else, running from the sources (tests), dist/apps/web-client/public under the project root.
 * A folder counts only when the bundle is in it (apps/web-client/public alone has the page without its script).
 */
function builtWebClientDir(): string | undefined {
  const built = (dir: string) => existsSync(join(dir, 'index.html')) && existsSync(join(dir, 'client.js'));
  const beside = join(__dirname, '..', '..', 'web-client', 'public');
  if (built(beside)) return beside;
  let d = __dirname;
  while (!existsSync(join(d, 'package.json')) && dirname(d) !== d) d = dirname(d);
  const dir = join(d, 'dist', 'apps', 'web-client', 'public');
  return built(dir) ? dir : undefined;
}

export async function startImServer(env: Env): Promise<RunningImServer> {
  const config = loadImServerConfig(env);
  const logger = new ServiceLogger('im-server', { format: config.logFormat, logLevels: NEST_LOG_LEVELS[config.logLevel] });
  const redis = createRedis(config.redis, { batchWrites: true });
  redis.on('error', (e: Error) => logger.error(`redis: ${e.message}`));
  let nc: NatsConnection;
  try {
    nc = await connect({ ...config.nats, name: 'im-server', maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true });
  } catch (e) {
    redis.disconnect();
    throw new Error(`cannot connect to NATS at ${redactUrl(config.natsUrl)} (NATS_URL): ${(e as Error).message}`);
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
  // background windows: the SIP front is built below; its NOTIFY is reached through this late-bound callback
  let notifyWaiting: (aor: string) => void = () => undefined;
  const windows = createWindows({
    config,
    redis,
    nc,
    messages: store,
    mailboxChanged: (aor) => notifyWaiting(aor),
    log: logger,
  });
  const charging = new ChargingGateway(ch2, retryQueue, config.chargingService, config.reservationValiditySeconds, (s, r, t) => metrics.observeCh2(s, r, t), windows.tagging);
  const sipLog = { log: (m: string) => logger.log(m), warn: (m: string) => logger.warn(m), error: (m: string) => logger.error(m) };
  const authKeys = new AuthKeys(config.keyPrefix);
  const throttle = new LoginThrottle(redis, authKeys, config.authThrottle);
  const digest = new DigestServer({
    realm: config.domain,
    algorithms: config.digestAlgorithms,
    secret: config.digestSecret,
    nonceTtlMs: config.nonceTtlMs,
    crypto: nodeDigestCrypto,
    now: () => systemClock.now(),
    nonceCounts: new RedisNonceCounts(redis, authKeys),
  });
  const sipAuth = new SipAuthenticator(config, digest, throttle, users, metrics, (m) => logger.warn(m));
  // the SIP front, then what depends on its port (message-summary, retrieval, the other handlers), then the
  // router over the handlers, which the front is started with: every part gets what it needs by constructor
  const sip = new SipFront(config, metrics, sipLog);
  const summary = new MessageSummaryHandler(config, sip, store, sipAuth);
  const receipts = new ReceiptService({
    redis,
    keyPrefix: config.keyPrefix,
    domain: config.domain,
    markerTtlSeconds: config.messageTtlSeconds + 86400,
    users,
    store,
    sender: new ReceiptSender(sip, (b) => sip.flowTo(b), config.advertisedHost),
    onStored: (aor) => void summary.notifyWaiting(aor),
    log: (m) => logger.warn(m),
  });
  const retrieval = new RetrievalService(config, sip, store, charging, metrics, (m) => logger.log(m), (aor) => void summary.notifyWaiting(aor), receipts);
  const router = new SipRouter(
    [
      new OptionsHandler(),
      new RegistrarHandler(config, users, sipAuth, summary),
      new PagerHandler(config, sip, store, users, metrics, sipAuth, summary),
      summary,
      new RetrievalGateHandler(config, sip, sipAuth, retrieval),
    ],
    { clock: sip.clock, t1: config.sipT1 },
  );
  notifyWaiting = (aor) => void summary.notifyWaiting(aor);
  const deposits = new DepositService(store, config.domain, (aor) => void summary.notifyWaiting(aor), windows.tagging);

  const readiness = {
    ...readinessProbes(redis, nc),
    sample: async () => {
      metrics.retryQueue.set(await retryQueue.depth());
      metrics.sessions.set(retrieval.activeSessions);
    },
  };

  const balance = (aor: string) => charging.balance(aor);
  const quoter = new DeferredQuoter({ pending: (aor) => store.pending(aor), price: (aor, items) => charging.price(aor, items), balance });
  const app = await NestFactory.create<NestExpressApplication>(ImModule.forRoot({ config, store, users, deposits, metrics, readiness, throttle, balance, quoter, windows }), {
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
  await sip.start(router);
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
  windows.start();
  const sweeper = new ExpirySweeper(store, async (n) => void (await receipts.failed(n)), config.expirySweepMs, logger);
  sweeper.start();
  if (!config.adminToken) logger.warn('ADMIN_TOKEN is not set: the admin API is open (development only)');
  if (config.auth === 'none') logger.warn('SIP_AUTH=none: identities are taken from the From header — development only, never in production');
  app.useGlobalFilters(new StorageUnavailableFilter(app.getHttpAdapter()));
  await app.listen(config.httpPort, config.httpHost);
  const addr = app.getHttpServer().address();
  const httpPort = typeof addr === 'object' && addr ? addr.port : config.httpPort;
  logger.log(
    `im-server ready: SIP udp:${sip.ports.udp} tcp:${sip.ports.tcp} ws:${sip.ports.ws}, MSRP tcp:${retrieval.ports.tcp} ws:${retrieval.ports.ws} tls:${retrieval.ports.tls}, admin HTTP :${httpPort}, domain ${config.domain}, policy ${config.chargingPolicy}`,
  );

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      sip.drain();
      await retrieval.shutdown(config.shutdownDeadlineMs);
      await sweeper.stop();
      await windows.stop();
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
    msrpTlsPort: retrieval.ports.tls,
    store,
    users,
    retryQueue,
    charging,
    retrieval,
    receipts,
    windows,
    sip,
    redis,
    close,
  };
}
