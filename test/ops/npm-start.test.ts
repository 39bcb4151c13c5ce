/**
 * `npm start` for a first-time user: the launcher (built to dist/, as `npm start` runs it) finds Redis and NATS or
 * starts private ones whose files it keeps in a data directory, starts both services, seeds the demo data once,
 * prints the banner; a real client retrieves the demo messages; Ctrl-C (SIGINT) stops everything and leaves no
 * process behind; a second start finds what the first left, `--ephemeral` leaves nothing. And `npx imc` works in
 * a tree that was never built.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { freePort } from '@imc/runtime';
import { DEFAULT_CDR_STREAM } from '@imc/ch2';
import { connect } from 'nats';
import { retrieve } from '../../apps/cli/src/retrieval-client';

const ROOT = join(__dirname, '..', '..');
const START = join(ROOT, 'dist', 'libs', 'runtime', 'src', 'start.js');
const TOKEN = 'dev-admin-token';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

type Env = Record<string, string | undefined>;

/** Ports of their own for everything the stack listens on, so parallel tests never collide with it. */
async function stackPorts(): Promise<{ env: Env; imHttp: number; ceHttp: number; ws: number }> {
  const [imHttp, ceHttp, udp, tcp, ws, mtcp, mws] = await Promise.all(Array.from({ length: 7 }, () => freePort()));
  const env = {
    IM_HTTP_PORT: String(imHttp),
    CE_HTTP_PORT: String(ceHttp),
    SIP_UDP_PORT: String(udp),
    SIP_TCP_PORT: String(tcp),
    SIP_WS_PORT: String(ws),
    MSRP_TCP_PORT: String(mtcp),
    MSRP_WS_PORT: String(mws),
    SIP_BIND_HOST: '127.0.0.1',
  };
  return { env, imHttp, ceHttp, ws };
}

interface Launched {
  proc: ChildProcess;
  out(): string;
}

/** Starts the launcher and resolves once its banner is printed whole. */
function launch(env: Env, args: string[] = []): Promise<Launched> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [START, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      if (/IM Charging is running[^]*Ctrl-C stops everything\.[^\n]*\n└─+┘/.test(out)) resolve({ proc, out: () => out });
    });
    proc.stderr!.on('data', (d) => (out += d));
    proc.once('exit', (code) => reject(new Error(`launcher exited ${code}: ${out}`)));
  });
}

/** Ctrl-C: exits 0 and every process it started (services, private servers) is gone. */
async function stop(p: ChildProcess, atLeast = 2): Promise<void> {
  const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(p.pid)], { encoding: 'utf8' }).trim().split(/\s+/).map(Number).filter(Boolean);
  expect(children.length).toBeGreaterThanOrEqual(atLeast);
  const exited = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
  p.kill('SIGINT');
  expect(await exited).toBe(0);
  for (const c of children) expect(alive(c)).toBe(false);
}

/** The banner's box: every line as wide as the top, closed on the right, closed at the bottom. */
function banner(out: string): string[] {
  const lines = out.split('\n');
  const top = lines.findIndex((l) => l.startsWith('┌'));
  const bottom = lines.findIndex((l, i) => i > top && l.startsWith('└'));
  expect(top).toBeGreaterThanOrEqual(0);
  expect(bottom).toBeGreaterThan(top + 1);
  const box = lines.slice(top, bottom + 1);
  const width = [...box[0]].length;
  expect(box[0]).toMatch(/^┌─+┐$/);
  expect(box[box.length - 1]).toMatch(/^└─+┘$/);
  for (const l of box.slice(1, -1)) {
    expect(l).toMatch(/^│ .* │$/);
    expect([...l].length).toBe(width);
  }
  return box.slice(1, -1).map((l) => l.slice(2, -2).trimEnd());
}

async function admin(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, json: await r.json().catch(() => null) };
}

/** Messages on the CDR stream of the NATS at `url`, once it holds at least `atLeast` (waits for the relay). */
async function cdrsOnJetStream(url: string, atLeast: number): Promise<number> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await nc.jetstreamManager();
    let n = 0;
    for (let i = 0; i < 400 && n < atLeast; i++) {
      n = (await jsm.streams.info(DEFAULT_CDR_STREAM).catch(() => undefined))?.state.messages ?? 0;
      if (n < atLeast) await new Promise((res) => setTimeout(res, 25));
    }
    return n;
  } finally {
    await nc.close();
  }
}

describe('npm start', () => {
  beforeAll(() => {
    // npm start builds first; the suite builds when dist/ is missing or older than the launcher's sources
    const stale = ['start.ts', 'local-infra.ts', 'local-data-dir.ts', 'service-logger.ts'].some((f) => !existsSync(START) || statSync(START).mtimeMs < statSync(join(ROOT, 'libs', 'runtime', 'src', f)).mtimeMs);
    if (stale) execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'ignore' });
  }, 240000);

  it('starts the stack, seeds the demo once, serves a retrieval, and Ctrl-C leaves nothing running', async () => {
    const id = randomBytes(3).toString('hex');
    const { env: ports, imHttp, ws } = await stackPorts();
    const env = {
      ...process.env,
      ...ports,
      NATS_URL: process.env.NATS_URL!,
      REDIS_URL: process.env.REDIS_URL!,
      NATS_SUBJECT_PREFIX: `st${id}.`,
      REDIS_KEY_PREFIX: `st${id}:`,
      CDR_STREAM: `ST${id}`,
      LOG_LEVEL: 'warn',
      IM_SESSION_IDLE_SECONDS: '1',
    };

    const first = await launch(env);
    try {
      expect(first.out()).toMatch(/seeded demo data/);
      expect(first.out()).toContain(`web client    http://127.0.0.1:${imHttp}/client/`);
      // Redis and NATS that already ran are used, and said to keep their own data
      expect(banner(first.out())).toEqual(expect.arrayContaining([`redis         ${env.REDIS_URL}   (already running: its data is its own)`]));
      const r = await retrieve({ sipWsUrl: `ws://127.0.0.1:${ws}`, aor: 'sip:bob@example.com', password: 'bob-password', expect: 3, timeoutMs: 10000 });
      expect(r.messages.map((m) => m.text)).toEqual(['Hi Bob, call me when you land.', 'Dinner at 8?', 'Your parcel is at the front desk.']);
      // the built enabler runs its CDR relay on a worker thread: the three debit CDRs reach JetStream
      const nc = await connect({ servers: process.env.NATS_URL });
      try {
        const jsm = await nc.jetstreamManager();
        const subject = `st${id}.ch2.cdr.debit`;
        let debits = 0;
        for (let i = 0; i < 200 && debits < 3; i++) {
          const info = await jsm.streams.info(`ST${id}`, { subjects_filter: subject }).catch(() => undefined);
          debits = Number((info?.state.subjects as Record<string, number> | undefined)?.[subject] ?? 0);
          if (debits < 3) await new Promise((res) => setTimeout(res, 25));
        }
        expect(debits).toBe(3);
        await jsm.streams.delete(`ST${id}`);
      } finally {
        await nc.close();
      }
    } finally {
      await stop(first.proc);
    }
    // a second start finds the demo data and does not seed it again
    const second = await launch(env);
    try {
      expect(second.out()).toMatch(/demo data already present/);
    } finally {
      await stop(second.proc);
    }
  }, 60000);

  describe('with private Redis and NATS (nothing answers at REDIS_URL / NATS_URL)', () => {
    /** Closed ports: the launcher finds nothing there and starts servers of its own. */
    async function privateEnv(): Promise<{ env: Env; imHttp: number; ceHttp: number }> {
      const [redisPort, natsPort] = await Promise.all([freePort(), freePort()]);
      const { env: ports, imHttp, ceHttp } = await stackPorts();
      const env: Env = { ...process.env, ...ports, REDIS_URL: `redis://127.0.0.1:${redisPort}`, NATS_URL: `nats://127.0.0.1:${natsPort}`, LOG_LEVEL: 'info' };
      for (const k of ['LOG_FORMAT', 'IMC_EPHEMERAL', 'NATS_SUBJECT_PREFIX', 'REDIS_KEY_PREFIX', 'CDR_STREAM']) delete env[k];
      return { env, imHttp, ceHttp };
    }

    it('keeps their data in the data directory: a second start finds accounts, users, messages and CDRs at the same addresses', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'imc-start-data-'));
      try {
        const { env: base, ceHttp, imHttp } = await privateEnv();
        const env = { ...base, IMC_DATA_DIR: dataDir };
        const ce = `http://127.0.0.1:${ceHttp}`;
        const im = `http://127.0.0.1:${imHttp}`;
        const carol = `sip:carol-${randomBytes(3).toString('hex')}@example.com`;

        const first = await launch(env);
        let lines: string[];
        let cdrs: number;
        try {
          lines = banner(first.out());
          expect(lines).toContain(`data          ${dataDir}   (kept between runs; npm start -- --ephemeral: a throwaway run)`);
          // Nest's route mapping is at debug level: not one line of it at info
          expect(first.out()).toMatch(/im-server ready/);
          expect(first.out()).not.toMatch(/RoutesResolver|RouterExplorer|Mapped \{/);
          const redisUrl = /^redis +(redis:\/\/\S+) +\(private, files in the data directory\)$/m.exec(lines.join('\n'))![1];
          const natsUrl = /^nats +(nats:\/\/\S+) +\(private, files in the data directory\)$/m.exec(lines.join('\n'))![1];
          // compose's durability settings: every write on disk before it is answered
          const redis = new Redis(redisUrl);
          try {
            expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
            expect(await redis.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
            expect(await redis.config('GET', 'dir')).toEqual(['dir', join(dataDir, 'redis')]);
          } finally {
            redis.disconnect();
          }
          expect(readdirSync(join(dataDir, 'nats'))).toContain('jetstream');
          expect((await admin(ce, 'POST', '/v1/accounts', { subscriber: carol, balance: 777, currency: 'EUR' })).status).toBe(201);
          expect((await admin(ce, 'POST', `/v1/accounts/${encodeURIComponent(carol)}/top-ups`, { amount: 23, requestId: 'first-run' })).status).toBe(201);
          cdrs = await cdrsOnJetStream(natsUrl, 1);
          expect(cdrs).toBeGreaterThanOrEqual(1);
        } finally {
          await stop(first.proc, 4); // both services and both servers
        }
        expect(JSON.parse(readFileSync(join(dataDir, 'servers.json'), 'utf8')).launcher).toBeUndefined();

        const second = await launch(env);
        try {
          expect(second.out()).toMatch(/demo data already present/);
          const again = banner(second.out());
          // the same ports as the first run (remembered in the data directory)
          expect(again.filter((l) => /^(redis|nats) /.test(l))).toEqual(lines.filter((l) => /^(redis|nats) /.test(l)));
          expect((await admin(ce, 'GET', `/v1/accounts/${encodeURIComponent(carol)}`)).json).toMatchObject({ balance: 800, currency: 'EUR' });
          const deferred = await admin(im, 'GET', `/v1/users/${encodeURIComponent('sip:bob@example.com')}/deferred`);
          expect(deferred.json.messages.map((m: { octets: number }) => m.octets)).toHaveLength(3);
          const topUps = await admin(ce, 'GET', `/v1/cdrs?subscriber=${encodeURIComponent(carol)}&type=top-up`);
          expect(JSON.stringify(topUps.json)).toContain('"amount":23');
          const natsUrl = /^nats +(nats:\/\/\S+)/m.exec(again.join('\n'))![1];
          expect(await cdrsOnJetStream(natsUrl, cdrs)).toBeGreaterThanOrEqual(cdrs);
        } finally {
          await stop(second.proc, 4);
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    }, 120000);

    it('--ephemeral runs them in a temporary folder and leaves nothing behind', async () => {
      const scratch = mkdtempSync(join(tmpdir(), 'imc-start-eph-'));
      try {
        const temp = join(scratch, 'tmp');
        mkdirSync(temp);
        const dataDir = join(scratch, 'data');
        const { env } = await privateEnv();
        const run = await launch({ ...env, TMPDIR: temp, IMC_DATA_DIR: dataDir }, ['--ephemeral']);
        try {
          const line = banner(run.out()).find((l) => l.startsWith('data '));
          expect(line).toMatch(/^data +temporary, deleted on exit \(--ephemeral\): /);
          expect(readdirSync(temp).length).toBe(2); // redis's and nats's
          expect(line).toContain(join(temp, readdirSync(temp)[0]));
        } finally {
          await stop(run.proc, 4);
        }
        expect(readdirSync(temp)).toEqual([]);
        expect(existsSync(dataDir)).toBe(false);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    }, 60000);
  });
});

describe('npx imc right after npm ci', () => {
  it('runs from the sources in a tree without dist/, and picks up a changed source', () => {
    // a checkout that was never built: the sources, the bin, and node_modules as npm ci left it
    const tree = mkdtempSync(join(tmpdir(), 'imc-cli-tree-'));
    try {
      mkdirSync(join(tree, 'apps', 'cli'), { recursive: true });
      cpSync(join(ROOT, 'apps', 'cli', 'bin'), join(tree, 'apps', 'cli', 'bin'), { recursive: true });
      cpSync(join(ROOT, 'apps', 'cli', 'src'), join(tree, 'apps', 'cli', 'src'), { recursive: true });
      symlinkSync(join(ROOT, 'apps', 'web-client'), join(tree, 'apps', 'web-client'));
      symlinkSync(join(ROOT, 'libs'), join(tree, 'libs'));
      cpSync(join(ROOT, 'tsconfig.json'), join(tree, 'tsconfig.json'));
      mkdirSync(join(tree, 'node_modules'));
      for (const m of readdirSync(join(ROOT, 'node_modules'))) if (m !== '.cache') symlinkSync(join(ROOT, 'node_modules', m), join(tree, 'node_modules', m));
      expect(existsSync(join(tree, 'dist'))).toBe(false);

      const imc = (...args: string[]) => execFileSync(process.execPath, [join(tree, 'apps', 'cli', 'bin', 'imc.js'), ...args], { encoding: 'utf8', env: { ...process.env } });
      expect(imc('--help')).toMatch(/^imc — IM Charging command line\n/);
      const bundle = join(tree, 'node_modules', '.cache', 'imc', 'imc.js');
      const builtAt = statSync(bundle).mtimeMs;
      expect(imc('report', '--help')).toMatch(/--format csv\|json\|html/);
      expect(statSync(bundle).mtimeMs).toBe(builtAt); // nothing changed: not bundled again

      const main = join(tree, 'apps', 'cli', 'src', 'main.ts');
      writeFileSync(main, readFileSync(main, 'utf8').replace('imc — IM Charging command line', 'imc — edited in place'));
      expect(imc('--help')).toMatch(/^imc — edited in place\n/);
    } finally {
      rmSync(tree, { recursive: true, force: true });
    }
  }, 30000);
});
