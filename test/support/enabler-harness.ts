/**
 * Starts Charging Enablers for tests on the suite's Redis and NATS, isolated by a random subject prefix, key
 * prefix and CDR stream, with millisecond timers. Several instances started with the same `ns` share one ledger.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { connect, NatsConnection } from 'nats';
import { Ch2Client } from '@imc/ch2';
import { natsConnectionOptions } from '@imc/runtime';
import { startChargingEnabler, RunningEnabler } from '../../apps/charging-enabler/src/bootstrap';

export interface Namespace {
  id: string;
  env: Record<string, string>;
}

export function testNamespace(extra: Record<string, string> = {}): Namespace {
  const id = randomBytes(4).toString('hex');
  return {
    id,
    env: {
      NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      NODE_ENV: 'test',
      ADMIN_TOKEN: 'test-admin-token',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      NATS_SUBJECT_PREFIX: `t${id}.`,
      REDIS_KEY_PREFIX: `t${id}:`,
      CDR_STREAM: `T${id}`,
      LOG_LEVEL: 'silent',
      SHUTDOWN_GRACE_MS: '0',
      EXPIRY_SWEEP_MS: '50',
      CDR_RELAY_INTERVAL_MS: '20',
      LEDGER_SHARDS: '4',
      TARIFFS_FILE: 'test/fixtures/tariffs.test.yaml',
      ...extra,
    },
  };
}

export function startEnabler(ns: Namespace, extra: Record<string, string> = {}): Promise<RunningEnabler> {
  return startChargingEnabler({ ...ns.env, ...extra });
}

export async function ch2ClientFor(ns: Namespace, opts: { timeoutMs?: number; retries?: number } = {}): Promise<{ nc: NatsConnection; ch2: Ch2Client }> {
  const nc = await connect(natsConnectionOptions(ns.env.NATS_URL));
  return { nc, ch2: new Ch2Client(nc, { subjectPrefix: ns.env.NATS_SUBJECT_PREFIX, timeoutMs: opts.timeoutMs ?? 2000, retries: opts.retries ?? 2 }) };
}

/** One JSON call to a service's HTTP API (the bearer token when given): status, parsed body (else the text), Location. */
export async function httpJson(port: number, method: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, location: res.headers.get('location') };
}

/** Calls the admin HTTP API of an enabler. */
export async function admin(port: number, method: string, path: string, body?: unknown, token = 'test-admin-token') {
  const { status, json } = await httpJson(port, method, path, body, token);
  return { status, json };
}

export function subscriber(tag = 'user'): string {
  return `sip:${tag}-${randomBytes(3).toString('hex')}@example.com`;
}

export function common(sub: string, service = 'im.test') {
  return { requestId: randomUUID(), subscriber: sub, service, timestamp: new Date().toISOString() };
}

/** Polls `check` until it returns a truthy value (no fixed sleeps: it returns as soon as the condition holds). */
export async function waitFor<T>(check: () => Promise<T> | T, what: string, timeoutMs = 5000, everyMs = 10): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Two enabler replicas on one namespace (one queue group, one ledger) and a CH-2 client. */
export interface TwoReplicas {
  ns: Namespace;
  a: RunningEnabler;
  b: RunningEnabler;
  nc: NatsConnection;
  ch2: Ch2Client;
  close(): Promise<void>;
}

export async function startTwoReplicas(timeoutMs = 10000): Promise<TwoReplicas> {
  const ns = testNamespace();
  const [a, b] = await Promise.all([startEnabler(ns), startEnabler(ns)]);
  const { nc, ch2 } = await ch2ClientFor(ns, { timeoutMs });
  return {
    ns,
    a,
    b,
    nc,
    ch2,
    close: async () => {
      await nc.close();
      await Promise.all([a.close(), b.close()]);
    },
  };
}
