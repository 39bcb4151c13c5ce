/**
 * `npm start`: the whole stack on one machine for a first-time user (operations.md "Commands").
 * Finds Redis/NATS at REDIS_URL/NATS_URL or starts private ones, starts the charging-enabler and the im-server as
 * child processes, seeds a demo account, user and deferred messages once, prints where to connect, and on
 * Ctrl-C stops everything it started, leaving no process behind.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLocalInfra, LocalInfra, MissingBinaryError } from './local-infra';

// dist/libs/runtime/src → the project root
const ROOT = join(__dirname, '..', '..', '..', '..');
/** Stops what was started; replaced once something is running. */
let cleanup: (code: number) => Promise<void> = async (code) => process.exit(code);
const DIST = join(ROOT, 'dist');


function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function waitReady(url: string, name: string, child: ChildProcess, timeoutMs = 30000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} during start-up (see its log lines above)`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${name} was not ready after ${timeoutMs / 1000} s (${url})`);
}

async function call(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json().catch(() => null) };
}

async function main(): Promise<void> {
  const env = process.env;
  const token = env.ADMIN_TOKEN ?? 'dev-admin-token';
  const domain = env.SIP_DOMAIN ?? 'example.com';
  const ceHttp = env.CE_HTTP_PORT ?? '8081';
  const imHttp = env.IM_HTTP_PORT ?? env.HTTP_PORT ?? '8080';
  say('IM Charging — starting the local stack');
  let infra: LocalInfra;
  try {
    infra = await ensureLocalInfra({ log: (l) => say(`  ${l}`) });
  } catch (e) {
    if (e instanceof MissingBinaryError) {
      say(`\n${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const children: { name: string; proc: ChildProcess }[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('\nstopping…');
    await Promise.all(
      children.map(
        ({ proc }) =>
          new Promise<void>((resolve) => {
            if (proc.exitCode !== null) return resolve();
            const kill = setTimeout(() => proc.kill('SIGKILL'), 8000);
            proc.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            proc.kill('SIGTERM');
          }),
      ),
    );
    await infra.stop();
    say('stopped.');
    process.exit(code);
  };
  cleanup = stop;
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  const common = {
    ...env,
    NATS_URL: infra.nats.url,
    REDIS_URL: infra.redis.url,
    ADMIN_TOKEN: token,
    NODE_ENV: env.NODE_ENV ?? 'development',
    SIP_DOMAIN: domain,
  };
  const launch = (name: string, entry: string, extra: Record<string, string>) => {
    const file = join(DIST, entry);
    if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build first`);
    const proc = spawn(process.execPath, [file], { env: { ...common, ...extra }, stdio: ['ignore', 'inherit', 'inherit'] });
    proc.on('exit', (code) => {
      if (!stopping) {
        say(`${name} exited (code ${code}); stopping the stack`);
        void stop(1);
      }
    });
    children.push({ name, proc });
    return proc;
  };
  say('  starting charging-enabler…');
  const ce = launch('charging-enabler', 'apps/charging-enabler/src/main.js', {
    HTTP_PORT: ceHttp,
    TARIFFS_FILE: env.TARIFFS_FILE ?? join(ROOT, 'deploy', 'tariffs.yaml'),
  });
  say('  starting im-server…');
  const im = launch('im-server', 'apps/im-server/src/main.js', { HTTP_PORT: imHttp });
  const ceBase = `http://127.0.0.1:${ceHttp}`;
  const imBase = `http://127.0.0.1:${imHttp}`;
  await Promise.all([waitReady(`${ceBase}/health/ready`, 'charging-enabler', ce), waitReady(`${imBase}/health/ready`, 'im-server', im)]);

  // demo data, seeded once: an account with credit, a SIP user, a few deferred messages
  const bob = `sip:bob@${domain}`;
  const created = await call(ceBase, token, 'POST', '/v1/accounts', { subscriber: bob, balance: 500, currency: 'EUR' });
  if (created.status === 201) {
    await call(imBase, token, 'PUT', `/v1/users/${encodeURIComponent(bob)}`, { password: 'bob-password' });
    await call(imBase, token, 'PUT', `/v1/users/${encodeURIComponent(`sip:alice@${domain}`)}`, { password: 'alice-password' });
    for (const text of ['Hi Bob, call me when you land.', 'Dinner at 8?', 'Your parcel is at the front desk.'])
      await call(imBase, token, 'POST', `/v1/users/${encodeURIComponent(bob)}/deferred`, { from: `sip:alice@${domain}`, text });
    say('  seeded demo data: account sip:bob@' + domain + ' (5.00 EUR), users bob and alice, 3 messages for bob');
  } else {
    say('  demo data already present (not seeded again)');
  }
  const sipUdp = env.SIP_UDP_PORT ?? '5060';
  const sipWs = env.SIP_WS_PORT ?? '5066';
  say(`
┌──────────────────────────────────────────────────────────────────────────┐
  IM Charging is running
  SIP           udp/tcp 127.0.0.1:${sipUdp}   ws://127.0.0.1:${sipWs}   domain ${domain}
  MSRP          tcp 127.0.0.1:${env.MSRP_TCP_PORT ?? '2855'}   ws://127.0.0.1:${env.MSRP_WS_PORT ?? '2856'}
  web client    ${imBase}/client/   (log in as bob / bob-password)
  im-server     ${imBase}   (docs ${imBase}/docs)
  enabler       ${ceBase}   (docs ${ceBase}/docs)
  admin token   ${token}
  demo user     sip:bob@${domain} / bob-password   (alice / alice-password)

  try:  npx imc retrieve sip:bob@${domain} --password bob-password
        npx imc account show sip:bob@${domain}
        npx imc report --format html --out report.html
  Ctrl-C stops everything.
└──────────────────────────────────────────────────────────────────────────┘`);
}

main().catch((e: Error) => {
  process.stderr.write(`npm start failed: ${e.message}\n`);
  void cleanup(1);
});
