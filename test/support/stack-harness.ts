/**
 * Starts a whole stack for end-to-end tests — a Charging Enabler and an im-server on the suite's Redis and NATS,
 * isolated by prefixes, on free loopback ports, with millisecond protocol timers — and the helpers tests use to
 * provision accounts and users and deposit messages.
 */
import { freePort } from '@imc/runtime';
import type { RunningEnabler } from '../../apps/charging-enabler/src/bootstrap';
import { startImServer, RunningImServer } from '../../apps/im-server/src/bootstrap';
import { admin, Namespace, startEnabler, testNamespace, waitFor } from './enabler-harness';

export interface Stack {
  ns: Namespace;
  enabler?: RunningEnabler;
  im: RunningImServer;
  env: Record<string, string>;
  sipWsUrl: string;
  close(): Promise<void>;
}

export async function imEnv(ns: Namespace, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const [udp, tcp, ws, mtcp, mws, mtls] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  return {
    ...ns.env,
    SIP_DOMAIN: 'example.com',
    SIP_BIND_HOST: '127.0.0.1',
    SIP_ADVERTISED_HOST: '127.0.0.1',
    SIP_UDP_PORT: String(udp),
    SIP_TCP_PORT: String(tcp),
    SIP_WS_PORT: String(ws),
    MSRP_TCP_PORT: String(mtcp),
    MSRP_WS_PORT: String(mws),
    MSRP_TLS_PORT: String(mtls), // listens only when a certificate is configured
    SIP_T1_MS: '20',
    SIP_T2_MS: '80',
    SIP_T4_MS: '100',
    MSRP_TRANSACTION_TIMEOUT_MS: '500',
    MSRP_CONNECT_TIMEOUT_MS: '2000',
    IM_SESSION_IDLE_MS: '300',
    CHARGING_TIMEOUT_MS: '300',
    CHARGING_RETRIES: '1',
    CHARGING_RETRY_INTERVAL_MS: '50',
    SHUTDOWN_DEADLINE_MS: '200',
    ...(process.env.IMC_TEST_LOG ? { LOG_LEVEL: process.env.IMC_TEST_LOG } : {}),
    ...extra,
  };
}

export async function startStack(opts: { im?: Record<string, string>; enabler?: Record<string, string>; withEnabler?: boolean } = {}): Promise<Stack> {
  const ns = testNamespace();
  const enabler = opts.withEnabler === false ? undefined : await startEnabler(ns, opts.enabler ?? {});
  const env = await imEnv(ns, opts.im);
  const im = await startImServer(env);
  return {
    ns,
    enabler,
    im,
    env,
    sipWsUrl: `ws://127.0.0.1:${im.sipWsPort}`,
    close: async () => {
      await im.close();
      await enabler?.close();
    },
  };
}

export async function imAdmin(s: Stack, method: string, path: string, body?: unknown) {
  return admin(s.im.httpPort, method, path, body);
}

/** A subscriber with an account (balance in cents) and SIP credentials. */
export async function provision(s: Stack, user: string, balance: number, password = 'secret-pw'): Promise<string> {
  const aor = `sip:${user}@example.com`;
  if (s.enabler) {
    const r = await admin(s.enabler.httpPort, 'POST', '/v1/accounts', { subscriber: aor, balance, currency: 'EUR' });
    if (r.status !== 201) throw new Error(`account: ${r.status} ${JSON.stringify(r.json)}`);
  }
  const u = await imAdmin(s, 'PUT', `/v1/users/${encodeURIComponent(aor)}`, { password });
  if (u.status !== 201 && u.status !== 200) throw new Error(`user: ${u.status} ${JSON.stringify(u.json)}`);
  return aor;
}

export async function deposit(s: Stack, to: string, from: string, text: string): Promise<string> {
  const r = await imAdmin(s, 'POST', `/v1/users/${encodeURIComponent(to)}/deferred`, { from, text });
  if (r.status !== 201) throw new Error(`deposit: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.id;
}

/** Deposits like a user does: a pager-mode SIP MESSAGE from `from` (digest-authenticated sip.js over WebSocket). */
export async function sipMessage(s: Stack, from: string, password: string, to: string, text: string): Promise<number> {
  const { UserAgent, Messager } = await import('sip.js');
  const g = globalThis as { WebSocket?: unknown };
  g.WebSocket ??= (await import('ws')).WebSocket;
  const ua = new UserAgent({
    uri: UserAgent.makeURI(from),
    transportOptions: { server: s.sipWsUrl },
    authorizationUsername: from.slice(from.indexOf(':') + 1, from.indexOf('@')),
    authorizationPassword: password,
    logBuiltinEnabled: false,
  });
  await ua.start();
  try {
    return await new Promise<number>((resolve) => {
      void new Messager(ua, UserAgent.makeURI(to)!, text, 'text/plain;charset=UTF-8').message({
        requestDelegate: {
          onAccept: (r) => resolve(r.message.statusCode ?? 0),
          onReject: (r) => resolve(r.message.statusCode ?? 0),
        },
      });
    });
  } finally {
    await Promise.race([ua.stop(), new Promise((r) => setTimeout(r, 500))]);
  }
}

export async function account(s: Stack, aor: string) {
  return (await admin(s.enabler!.httpPort, 'GET', `/v1/accounts/${encodeURIComponent(aor)}`)).json;
}

/** The account once nothing is held any more (every reservation released or expired). */
export async function settled(s: Stack, aor: string) {
  return waitFor(async () => {
    const a = await account(s, aor);
    return a.reserved === 0 ? a : undefined;
  }, `${aor} settled`, 8000, 20);
}

/** How many messages wait for `aor` in the store. */
export async function pendingCount(s: Stack, aor: string): Promise<number> {
  return (await imAdmin(s, 'GET', `/v1/users/${encodeURIComponent(aor)}/deferred`)).json.messages.length;
}

export function uniqueUser(tag: string): string {
  return `${tag}${Math.random().toString(36).slice(2, 8)}`;
}

/** A stack for the imc CLI's tests: started, with the CLI's environment (IMC_*, ADMIN_TOKEN) pointing at it. */
export async function startStackForCli(): Promise<Stack> {
  const s = await startStack();
  process.env.IMC_ENABLER_URL = `http://127.0.0.1:${s.enabler!.httpPort}`;
  process.env.IMC_IM_URL = `http://127.0.0.1:${s.im.httpPort}`;
  process.env.ADMIN_TOKEN = 'test-admin-token';
  process.env.IMC_SIP_WS = s.sipWsUrl;
  return s;
}
