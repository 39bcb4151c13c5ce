/**
 * `npm start`: the whole stack on one machine for a first-time user (operations.md "Commands").
 * Finds Redis/NATS at REDIS_URL/NATS_URL or starts private ones whose files are kept in a data directory
 * (IMC_DATA_DIR, default `.imc-data/` under the project) — or, with `--ephemeral` / IMC_EPHEMERAL=1, in a temporary
 * folder deleted on exit. Starts the charging-enabler and the im-server as child processes, seeds a demo account,
 * user and deferred messages once, prints where to connect, and on Ctrl-C stops everything it started, leaving no
 * process behind.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, EnvReader } from './env-reader';
import { DataDirInUseError } from './local-data-dir';
import { ensureLocalInfra, LocalInfra, LocalService, MissingBinaryError } from './local-infra';

/** The nearest directory up from here with a package.json: the project root (from dist/ or from the sources). */
function projectRoot(): string {
  let d = __dirname;
  while (!existsSync(join(d, 'package.json')) && dirname(d) !== d) d = dirname(d);
  return d;
}

/** Stops what was started; replaced once something is running. */
let cleanup: (code: number) => Promise<void> = async (code) => process.exit(code);

/** What the launcher reads from its arguments and the environment, validated once. */
export interface LauncherConfig {
  /** Where private Redis/NATS keep their files; undefined when ephemeral. */
  dataDir?: string;
  adminToken: string;
  domain: string;
  ceHttpPort: number;
  imHttpPort: number;
  sipUdpPort: number;
  sipWsPort: number;
  msrpTcpPort: number;
  msrpWsPort: number;
  tariffsFile?: string;
}

export function readLauncherConfig(argv: string[], env: Record<string, string | undefined>, root: string): LauncherConfig {
  for (const a of argv) if (a !== '--ephemeral') throw new ConfigError(`argument ${a}`, 'is not known (npm start takes only --ephemeral: a throwaway run whose data is deleted on exit)');
  const r = new EnvReader(env);
  const ephemeral = argv.includes('--ephemeral') || r.bool('IMC_EPHEMERAL', false);
  const dataDir = r.str('IMC_DATA_DIR');
  return {
    dataDir: ephemeral ? undefined : dataDir !== undefined ? resolve(dataDir) : join(root, '.imc-data'),
    adminToken: r.str('ADMIN_TOKEN', 'dev-admin-token'),
    domain: r.str('SIP_DOMAIN', 'example.com'),
    ceHttpPort: r.port('CE_HTTP_PORT', 8081),
    imHttpPort: r.port('IM_HTTP_PORT', r.port('HTTP_PORT', 8080)),
    sipUdpPort: r.port('SIP_UDP_PORT', 5060),
    sipWsPort: r.port('SIP_WS_PORT', 5066),
    msrpTcpPort: r.port('MSRP_TCP_PORT', 2855),
    msrpWsPort: r.port('MSRP_WS_PORT', 2856),
    tariffsFile: r.str('TARIFFS_FILE'),
  };
}

/** Draws a box around `lines`, its width computed from the longest. */
export function drawBox(lines: string[]): string {
  const width = Math.max(...lines.map((l) => [...l].length));
  const pad = (l: string) => l + ' '.repeat(width - [...l].length);
  return [`┌${'─'.repeat(width + 2)}┐`, ...lines.map((l) => `│ ${pad(l)} │`), `└${'─'.repeat(width + 2)}┘`].join('\n');
}

/** The banner's lines about Redis, NATS and where their data is. */
export function dataLines(infra: Pick<LocalInfra, 'redis' | 'nats' | 'dataDir'>): string[] {
  const where = (s: LocalService) => `${s.url}   ${s.started ? `(private${s.ephemeral ? ', temporary' : ', files in the data directory'})` : '(already running: its data is its own)'}`;
  const lines = [`redis         ${where(infra.redis)}`, `nats          ${where(infra.nats)}`];
  if (infra.dataDir) lines.push(`data          ${infra.dataDir.path}   (kept between runs; npm start -- --ephemeral: a throwaway run)`);
  else {
    const temporary = [infra.redis, infra.nats].filter((s) => s.started && s.ephemeral).map((s) => s.dir);
    if (temporary.length) lines.push(`data          temporary, deleted on exit (--ephemeral): ${temporary.join(', ')}`);
  }
  return lines;
}

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
  const root = projectRoot();
  const dist = join(root, 'dist');
  let config: LauncherConfig;
  try {
    config = readLauncherConfig(process.argv.slice(2), env, root);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    say(`npm start: ${e.message}`);
    process.exit(2);
  }
  const { adminToken: token, domain } = config;
  say('IM Charging — starting the local stack');
  const children: { name: string; proc: ChildProcess }[] = [];
  let stopping = false;
  // a Ctrl-C from here on stops what was started, even servers still starting
  const starting = ensureLocalInfra({ log: (l) => say(`  ${l}`), dataDir: config.dataDir, detached: true });
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
    await starting.then(
      (infra) => infra.stop(),
      () => undefined,
    );
    say('stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGHUP', () => void stop(0)); // the terminal closed: the servers, in sessions of their own, would not hear it
  let infra: LocalInfra;
  try {
    infra = await starting;
  } catch (e) {
    if (e instanceof MissingBinaryError || e instanceof DataDirInUseError) {
      say(`\n${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  cleanup = stop;

  const common = {
    ...env,
    NATS_URL: infra.nats.url,
    REDIS_URL: infra.redis.url,
    ADMIN_TOKEN: token,
    NODE_ENV: env.NODE_ENV ?? 'development',
    SIP_DOMAIN: domain,
  };
  const launch = (name: string, entry: string, extra: Record<string, string>) => {
    const file = join(dist, entry);
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
    HTTP_PORT: String(config.ceHttpPort),
    TARIFFS_FILE: config.tariffsFile ?? join(root, 'deploy', 'tariffs.yaml'),
  });
  say('  starting im-server…');
  const im = launch('im-server', 'apps/im-server/src/main.js', { HTTP_PORT: String(config.imHttpPort) });
  const ceBase = `http://127.0.0.1:${config.ceHttpPort}`;
  const imBase = `http://127.0.0.1:${config.imHttpPort}`;
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
  const box = drawBox([
    'IM Charging is running',
    '',
    `SIP           udp/tcp 127.0.0.1:${config.sipUdpPort}   ws://127.0.0.1:${config.sipWsPort}   domain ${domain}`,
    `MSRP          tcp 127.0.0.1:${config.msrpTcpPort}   ws://127.0.0.1:${config.msrpWsPort}`,
    `web client    ${imBase}/client/   (log in as bob / bob-password)`,
    `im-server     ${imBase}   (docs ${imBase}/docs)`,
    `enabler       ${ceBase}   (docs ${ceBase}/docs)`,
    `admin token   ${token}`,
    `demo user     sip:bob@${domain} / bob-password   (alice / alice-password)`,
    ...dataLines(infra),
    '',
    `try:  npx imc retrieve sip:bob@${domain} --password bob-password`,
    `      npx imc account show sip:bob@${domain}`,
    '      npx imc report --format html --out report.html',
    'Ctrl-C stops everything.',
  ]);
  say(`\n${box}`);
}

if (require.main === module)
  main().catch((e: Error) => {
    process.stderr.write(`npm start failed: ${e.message}\n`);
    void cleanup(1);
  });
