/**
 * Finds Redis and NATS (with JetStream) where the environment says they are, or starts private ones.
 *
 * operations.md: `npm start` and `npm test` use Redis/NATS at REDIS_URL / NATS_URL when those answer; otherwise
 * they start `redis-server` and `nats-server -js` from PATH on loopback ports, and stop them afterwards. Given a data
 * directory (npm start's), the private servers keep their files there with compose's durability settings and listen
 * on the ports of the previous run when free; without one (the tests, `npm start -- --ephemeral`) they run in a
 * temporary folder deleted on stop. When the binaries are missing the error says exactly what to install.
 */
import { spawn, ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { LocalDataDir } from './local-data-dir';

export interface LocalService {
  /** URL clients should use. */
  url: string;
  /** True when this process started the server (and must stop it). */
  started: boolean;
  /** Process id of a server we started. */
  pid?: number;
  /** Where a server we started keeps its files. */
  dir?: string;
  /** True when those files are deleted on stop. */
  ephemeral?: boolean;
  stop(): Promise<void>;
}

export interface LocalInfra {
  redis: LocalService;
  nats: LocalService;
  /** The data directory the private servers use, when one was given. */
  dataDir?: LocalDataDir;
  stop(): Promise<void>;
}

export class MissingBinaryError extends Error {
  constructor(readonly binary: string) {
    super(
      `${binary} is not running at the configured URL and no ${binary} binary was found on PATH. ` +
        `Install it (Debian/Ubuntu: apt-get install redis-server nats-server), ` +
        `point REDIS_URL / NATS_URL at running servers, or use docker compose up.`,
    );
    this.name = 'MissingBinaryError';
  }
}

const EXTRA_PATHS = ['/usr/sbin', '/usr/local/sbin', '/usr/local/bin', '/usr/bin'];

export function findBinary(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(EXTRA_PATHS);
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Whether `port` can be bound on 127.0.0.1 right now, for TCP and for UDP (SIP listens on both with one number). */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => {
      const udp = createSocket('udp4');
      udp.unref();
      udp.once('error', () => srv.close(() => resolve(false)));
      udp.bind(port, '127.0.0.1', () => udp.close(() => srv.close(() => resolve(true))));
    });
  });
}

/**
 * A port free on 127.0.0.1 for both TCP and UDP, for private servers and test stacks. It is drawn below the
 * kernel's ephemeral range (which starts at 32768 by default): a port handed out by `listen(0)` comes from that
 * range, where any outgoing connection made before the caller binds it (to Redis, to NATS, by a parallel test) can
 * take it first. Falls back to the kernel's choice if no drawn port is free.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await bindable(port)) return port;
  }
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Opens a TCP connection, optionally writes `send`, resolves with the first bytes received (or undefined). */
function probe(host: string, port: number, send: string | undefined, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    let done = false;
    const finish = (v: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    let buf = '';
    sock.on('connect', () => {
      if (send) sock.write(send);
    });
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) finish(buf);
    });
    sock.on('error', () => finish(undefined));
    sock.on('close', () => finish(buf || undefined));
  });
}

function hostPort(url: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(u.port || defaultPort) };
}

/** True when a Redis server answers PING at the URL (auth errors count as "answers"). */
export async function redisAnswers(url: string, timeoutMs = 500): Promise<boolean> {
  const first = url.split(',')[0].trim();
  const { host, port } = hostPort(first, 6379);
  const reply = await probe(host, port, 'PING\r\n', timeoutMs);
  return !!reply && (reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
}

/** Resolves with the NATS INFO object when a NATS server answers at the URL. */
export async function natsInfo(url: string, timeoutMs = 500): Promise<Record<string, unknown> | undefined> {
  const first = url.split(',')[0].trim();
  const { host, port } = hostPort(first, 4222);
  const reply = await probe(host, port, undefined, timeoutMs);
  if (!reply || !reply.startsWith('INFO ')) return undefined;
  try {
    return JSON.parse(reply.slice(5, reply.indexOf('\r\n'))) as Record<string, unknown>;
  } catch {
    return {};
  }
}

async function waitFor(check: () => Promise<boolean>, what: string, proc: ChildProcess, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | null = null;
  proc.once('exit', (code) => (exited = code ?? -1));
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`${what} exited with code ${exited} before it was ready`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not become ready within ${timeoutMs} ms`);
}

function stopProcess(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const kill = setTimeout(() => proc.kill('SIGKILL'), 3000);
    proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

/** Redis's AOF fsync policy: `always` is compose's (deploy/redis/redis.conf) — a write is on disk before its answer. */
export type AppendFsync = 'always' | 'everysec' | 'no';

export interface RedisOptions {
  /** Append-only file persistence (default: on when `dir` is given, off otherwise). */
  aof?: boolean;
  /** fsync policy of the AOF (default `always`, as everywhere the product runs a persistent Redis). */
  appendfsync?: AppendFsync;
  /** Keep the files here (not deleted on stop); default a temporary folder deleted on stop. */
  dir?: string;
  /** Listen here (default a free port). */
  port?: number;
  /** Run in a process group of its own, so a Ctrl-C in the terminal reaches only the caller, which stops it last. */
  detached?: boolean;
}

/** Starts a private redis-server on a loopback port; no persistence unless `aof` or `dir`. */
export async function startRedis(opts: RedisOptions = {}): Promise<LocalService> {
  const bin = findBinary('redis-server');
  if (!bin) throw new MissingBinaryError('redis-server');
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'imc-redis-'));
  const aof = opts.aof ?? opts.dir !== undefined;
  const persistence = aof ? ['--appendonly', 'yes', '--appendfsync', opts.appendfsync ?? 'always'] : ['--appendonly', 'no'];
  const proc = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir], {
    stdio: 'ignore',
    detached: opts.detached,
  });
  const url = `redis://127.0.0.1:${port}`;
  await waitFor(() => redisAnswers(url, 200), 'redis-server', proc).catch(async (e) => {
    await stopProcess(proc);
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  return {
    url,
    started: true,
    pid: proc.pid,
    dir,
    ephemeral: !opts.dir,
    stop: async () => {
      await stopProcess(proc);
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a private nats-server with JetStream on a loopback port (default a free one), its store in `storeDir` (kept) or a temporary folder (deleted on stop). */
export async function startNats(port?: number, storeDir?: string, opts: { detached?: boolean } = {}): Promise<LocalService> {
  const bin = findBinary('nats-server');
  if (!bin) throw new MissingBinaryError('nats-server');
  const p = port ?? (await freePort());
  const dir = storeDir ?? mkdtempSync(join(tmpdir(), 'imc-nats-'));
  const proc = spawn(bin, ['-a', '127.0.0.1', '-p', String(p), '-js', '-sd', dir], { stdio: 'ignore', detached: opts.detached });
  const url = `nats://127.0.0.1:${p}`;
  await waitFor(async () => !!(await natsInfo(url, 200)), 'nats-server', proc).catch(async (e) => {
    await stopProcess(proc);
    if (!storeDir) rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  return {
    url,
    started: true,
    pid: proc.pid,
    dir,
    ephemeral: !storeDir,
    stop: async () => {
      await stopProcess(proc);
      if (!storeDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface EnsureOptions {
  redisUrl?: string;
  natsUrl?: string;
  log?: (line: string) => void;
  /** Where private servers keep their files between runs (npm start); without it they run in temporary folders. */
  dataDir?: string;
  /** Private servers in process groups of their own (npm start: a Ctrl-C stops the services first, then them). */
  detached?: boolean;
}

/** The previous run's port when it is free again, else a free one. */
async function portFor(dataDir: LocalDataDir | undefined, name: 'redis' | 'nats'): Promise<number> {
  const remembered = dataDir?.rememberedPort(name);
  return remembered !== undefined && (await bindable(remembered)) ? remembered : freePort();
}

/** Uses the configured Redis/NATS when they answer, otherwise starts private ones (in `dataDir` when given). */
export async function ensureLocalInfra(opts: EnsureOptions = {}): Promise<LocalInfra> {
  const log = opts.log ?? (() => undefined);
  const redisUrl = opts.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const natsUrl = opts.natsUrl ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const noop = async () => undefined;
  const redisFound = await redisAnswers(redisUrl);
  const info = await natsInfo(natsUrl);
  const natsFound = !!info && info.jetstream === true;
  // the data directory is claimed only when a private server will use it
  const dataDir = opts.dataDir !== undefined && !(redisFound && natsFound) ? new LocalDataDir(opts.dataDir) : undefined;
  await dataDir?.claim(log);

  let redis: LocalService;
  try {
    if (redisFound) {
      redis = { url: redisUrl, started: false, stop: noop };
      log(`redis: using ${redisUrl}`);
    } else {
      log(`redis: nothing answers at ${redisUrl}; starting a private redis-server`);
      const detached = opts.detached;
      redis = dataDir ? await startRedis({ dir: dataDir.redisDir, port: await portFor(dataDir, 'redis'), detached }) : await startRedis({ detached });
      dataDir?.record('redis', Number(new URL(redis.url).port), redis.pid);
      log(`redis: started at ${redis.url}`);
    }
  } catch (e) {
    dataDir?.release();
    throw e;
  }

  let nats: LocalService;
  if (natsFound) {
    nats = { url: natsUrl, started: false, stop: noop };
    log(`nats: using ${natsUrl}`);
  } else {
    log(info ? `nats: ${natsUrl} has no JetStream; starting a private nats-server -js` : `nats: nothing answers at ${natsUrl}; starting a private nats-server -js`);
    try {
      nats = await startNats(dataDir ? await portFor(dataDir, 'nats') : undefined, dataDir?.natsDir, { detached: opts.detached });
      dataDir?.record('nats', Number(new URL(nats.url).port), nats.pid);
    } catch (e) {
      await redis.stop();
      dataDir?.release();
      throw e;
    }
    log(`nats: started at ${nats.url}`);
  }

  return {
    redis,
    nats,
    dataDir,
    stop: async () => {
      await Promise.all([redis.stop(), nats.stop()]);
      dataDir?.release();
    },
  };
}
