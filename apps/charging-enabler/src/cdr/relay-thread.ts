/**
 * Runs the CDR relay on a worker thread of its own (its own Redis and NATS connections, its own heap), so reading
 * the outbox, building CDR JSON and waiting for JetStream's acks never hold the event loop that answers CH-2
 * requests, nor add to its garbage collections. In bench:charging this took the relay's share off the CH-2 tail.
 *
 * `CDR_RELAY_THREAD=false` keeps the relay on the main thread; so does running from TypeScript sources (tests
 * under ts-jest), where there is no compiled worker file to start.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { connect, NatsConnection } from 'nats';
import { createRedis, NatsConnectionOptions, RedisClient, RedisConnection } from '@imc/runtime';
import { LedgerKeys } from '../ledger/ledger-keys';
import { CdrRelay, RelayOptions } from './cdr-relay';
import type { RepublishResult } from './cdr-recovery';

export interface RelaySettings {
  redis: RedisConnection;
  nats: NatsConnectionOptions;
  keyPrefix: string;
  shards: number;
  relay: Omit<RelayOptions, 'onRelayed' | 'onError' | 'onRecovered' | 'onTrimmed'>;
}

export interface RelayEvents {
  onRelayed(n: number): void;
  onError(e: Error): void;
  /** The relay found the stream lacking CDRs it had acknowledged and re-published them. */
  onRecovered?(r: RepublishResult): void;
  /** CDRs past retention left the outbox. */
  onTrimmed?(n: number): void;
}

/** What the enabler holds: a relay running here or on its thread. */
export interface RelayRunner {
  readonly threaded: boolean;
  stop(): Promise<void>;
}

type FromWorker = { relayed: number } | { error: string } | { recovered: RepublishResult } | { trimmed: number } | { ready: true } | { stopped: true };

const WORKER_FILE = join(__dirname, 'relay-thread.js');

export function threadedRelayAvailable(): boolean {
  return existsSync(WORKER_FILE);
}

/** Starts the relay on its worker thread; resolves once it is connected (rejects if it could not start). */
export async function startRelayThread(settings: RelaySettings, events: RelayEvents): Promise<RelayRunner> {
  const worker = new Worker(WORKER_FILE, { workerData: settings });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    const onExit = (code: number) => reject(new Error(`the CDR relay thread exited (${code}) before it was ready`));
    worker.once('error', onError);
    worker.once('exit', onExit);
    worker.on('message', (m: FromWorker) => {
      if ('ready' in m) {
        worker.off('error', onError);
        worker.off('exit', onExit);
        resolve();
      } else if ('relayed' in m) events.onRelayed(m.relayed);
      else if ('error' in m) events.onError(new Error(m.error));
      else if ('recovered' in m) events.onRecovered?.(m.recovered);
      else if ('trimmed' in m) events.onTrimmed?.(m.trimmed);
    });
  });
  worker.on('error', (e) => events.onError(e));
  let exited = false;
  let stopping: Promise<void> | undefined;
  worker.on('exit', (code) => {
    exited = true;
    // the CDRs stay safe in the outbox; say so loudly, the enabler's health stays up for CH-2
    if (!stopping) events.onError(new Error(`the CDR relay thread exited (${code}); CDRs wait in the Redis outbox until a relay runs`));
  });
  return {
    threaded: true,
    stop: () =>
      (stopping ??= exited
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            worker.once('exit', () => resolve());
            worker.postMessage('stop');
            // a worker stuck in a connection attempt must not hold shutdown
            setTimeout(() => void worker.terminate().then(() => resolve(), () => resolve()), 3000).unref();
          })),
  };
}

/** The relay on the calling thread (tests, or CDR_RELAY_THREAD=false). */
export function startRelayInline(redis: RedisClient, keys: LedgerKeys, nc: NatsConnection, settings: RelaySettings, events: RelayEvents): RelayRunner {
  const relay = new CdrRelay(redis, keys, nc, {
    ...settings.relay,
    onRelayed: events.onRelayed,
    onError: events.onError,
    onRecovered: events.onRecovered,
    onTrimmed: events.onTrimmed,
  });
  relay.start();
  return { threaded: false, stop: () => relay.stop() };
}

async function workerMain(settings: RelaySettings): Promise<void> {
  const post = (m: FromWorker) => parentPort!.postMessage(m);
  const redis = createRedis(settings.redis, { batchWrites: true });
  redis.on('error', (e: Error) => post({ error: `redis: ${e.message}` }));
  const nc = await connect({ ...settings.nats, name: 'charging-enabler-cdr-relay', maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true });
  const relay = new CdrRelay(redis, new LedgerKeys(settings.keyPrefix, settings.shards), nc, {
    ...settings.relay,
    onRelayed: (n) => post({ relayed: n }),
    onError: (e) => post({ error: e.message }),
    onRecovered: (r) => post({ recovered: r }),
    onTrimmed: (n) => post({ trimmed: n }),
  });
  parentPort!.on('message', (m: unknown) => {
    if (m !== 'stop') return;
    void (async () => {
      await relay.stop();
      await nc.drain().catch(() => undefined);
      await Promise.race([redis.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 500).unref())]);
      redis.disconnect();
      process.exit(0);
    })();
  });
  relay.start();
  post({ ready: true });
}

if (!isMainThread && parentPort && (workerData as RelaySettings | undefined)?.redis) {
  workerMain(workerData as RelaySettings).catch((e: Error) => {
    parentPort!.postMessage({ error: `relay thread failed to start: ${e.message}` });
    process.exit(1);
  });
}
