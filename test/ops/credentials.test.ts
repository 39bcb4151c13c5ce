/**
 * Credentials as operators give them (issue 11): a NATS that requires a user and a password with `@ / : #` in it is
 * reached by every NATS connection of the services — given as NATS_USER / NATS_PASSWORD, or percent-encoded in
 * NATS_URL (nats.js itself ignores credentials in a URL) — and no password shows in what a service prints when it
 * cannot start: its fatal message (main.ts prints `error.message`) and every log line written meanwhile.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, NatsConnection } from 'nats';
import { findBinary, freePort } from '@imc/runtime';
import { startChargingEnabler } from '../../apps/charging-enabler/src/bootstrap';
import { startImServer } from '../../apps/im-server/src/bootstrap';
import { Ch2Client } from '@imc/ch2';
import { admin, common, subscriber, testNamespace, waitFor } from '../support/enabler-harness';
import { imEnv } from '../support/stack-harness';

const PASSWORD = 'n@ts/pa:ss#1 x';
const USER = 'imc';
const nats = findBinary('nats-server');
const maybe = nats ? describe : describe.skip;

/** Everything written to stdout and stderr while `fn` runs (still written through). */
async function captureOutput<T>(fn: () => Promise<T>): Promise<{ out: string; result: PromiseSettledResult<T> }> {
  let out = '';
  const writes = [process.stdout.write, process.stderr.write] as const;
  const tap = (orig: typeof process.stdout.write) =>
    function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
      out += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString();
      return (orig as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof process.stdout.write;
  process.stdout.write = tap(writes[0]);
  process.stderr.write = tap(writes[1]);
  try {
    const [result] = await Promise.allSettled([fn()]);
    return { out, result };
  } finally {
    process.stdout.write = writes[0];
    process.stderr.write = writes[1];
  }
}

maybe('NATS credentials reach NATS, and stay out of logs', () => {
  let proc: ChildProcess;
  let dir: string;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'imc-nats-auth-'));
    proc = spawn(nats!, ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port), '--user', USER, '--pass', PASSWORD], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let log = '';
      proc.stderr!.on('data', (d) => {
        log += d;
        if (/Server is ready/.test(log)) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${log}`)));
    });
    url = `nats://127.0.0.1:${port}`;
  }, 20000);

  afterAll(async () => {
    // the store is removed once nats-server has exited: it writes to it until then
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill();
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a connection without the password (the test NATS really requires it)', async () => {
    await expect(connect({ servers: url, noAsyncTraces: true })).rejects.toThrow(/Authorization Violation/);
    // what nats.js does with credentials inside the URL: ignores them
    await expect(connect({ servers: `nats://${USER}:${encodeURIComponent(PASSWORD)}@${url.slice(7)}`, noAsyncTraces: true })).rejects.toThrow(/Authorization Violation/);
  });

  it('the enabler connects with NATS_USER / NATS_PASSWORD: CH-2 server, CDR relay and the JetStream report all authenticate', async () => {
    const ns = testNamespace();
    const ce = await startChargingEnabler({ ...ns.env, NATS_URL: url, NATS_USER: USER, NATS_PASSWORD: PASSWORD });
    let nc: NatsConnection | undefined;
    try {
      expect((await admin(ce.httpPort, 'GET', '/health/ready')).status).toBe(200);
      const sub = subscriber('cred');
      expect((await admin(ce.httpPort, 'POST', '/v1/accounts', { subscriber: sub, balance: 100, currency: 'EUR' })).status).toBe(201);
      expect((await admin(ce.httpPort, 'POST', `/v1/accounts/${encodeURIComponent(sub)}/top-ups`, { amount: 5, requestId: `cred-${ns.id}` })).status).toBe(201);
      // the relay published the top-up's CDR to JetStream on the password-protected NATS
      nc = await connect({ servers: url, user: USER, pass: PASSWORD, noAsyncTraces: true });
      const jsm = await nc.jetstreamManager();
      await waitFor(async () => ((await jsm.streams.info(ns.env.CDR_STREAM).catch(() => undefined))?.state.messages ?? 0) >= 1, 'a CDR on JetStream', 10000, 50);
      const report = await admin(ce.httpPort, 'GET', '/v1/reports/billing?source=jetstream&format=json');
      expect(report.status).toBe(200);
      // a CH-2 request answered through the enabler's own CH-2 server connection
      const balance = await new Ch2Client(nc, { subjectPrefix: ns.env.NATS_SUBJECT_PREFIX, timeoutMs: 3000, retries: 0 }).balance(common(sub));
      expect(balance).toMatchObject({ result: 'SUCCESS', balance: 105 });
    } finally {
      await nc?.close();
      await ce.close();
    }
  }, 30000);

  it('the im-server connects with the credentials percent-encoded in NATS_URL', async () => {
    const ns = testNamespace();
    const env = await imEnv(ns, { NATS_URL: `nats://${USER}:${encodeURIComponent(PASSWORD)}@${url.slice('nats://'.length)}` });
    const im = await startImServer(env);
    try {
      expect((await admin(im.httpPort, 'GET', '/health/ready')).status).toBe(200);
    } finally {
      await im.close();
    }
  }, 30000);

  it.each([
    ['charging-enabler', 'in NATS_URL, percent-encoded'],
    ['charging-enabler', 'in NATS_PASSWORD'],
    ['im-server', 'in NATS_URL, percent-encoded'],
  ])('%s failing to reach NATS (password %s) prints no password', async (service, where) => {
    const ns = testNamespace();
    const dead = await freePort();
    const nats =
      where === 'in NATS_PASSWORD'
        ? { NATS_URL: `nats://127.0.0.1:${dead}`, NATS_USER: USER, NATS_PASSWORD: PASSWORD }
        : { NATS_URL: `nats://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${dead}` };
    const env = { ...(service === 'im-server' ? await imEnv(ns) : ns.env), ...nats, LOG_LEVEL: 'verbose', REDIS_PASSWORD: PASSWORD, REDIS_URL: `redis://127.0.0.1:${await freePort()}` };
    const { out, result } = await captureOutput<unknown>(() => (service === 'im-server' ? startImServer(env) : startChargingEnabler(env)));
    expect(result.status).toBe('rejected');
    const message = (result as PromiseRejectedResult).reason.message as string;
    expect(message).toMatch(new RegExp(`cannot connect to NATS at nats://(${USER}:\\*\\*\\*@)?127\\.0\\.0\\.1:${dead} \\(NATS_URL\\)`));
    for (const text of [message, out]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(encodeURIComponent(PASSWORD));
      expect(text).not.toContain('pa:ss');
    }
  }, 30000);

  it('a URL that does not parse (an unencoded "#") is refused naming the variable, without the password', async () => {
    const ns = testNamespace();
    const start = () => startChargingEnabler({ ...ns.env, NATS_URL: `nats://${USER}:${PASSWORD}@127.0.0.1:4222` });
    await expect(start()).rejects.toThrow(/invalid configuration: NATS_URL/);
    const message = await start().catch((e: Error) => e.message);
    expect(message).not.toContain('pa:ss');
    expect(message).not.toContain('#1');
  });
});
