/**
 * Finds Redis and NATS (with JetStream) where the environment says they are, or starts private ones.
 *
 * operations.md: `npm start` and `npm test` use Redis/NATS at REDIS_URL / NATS_URL when those answer; otherwise
 * they start `redis-server` and `nats-server -js` from PATH on free loopback ports, and stop them afterwards.
 * When the binaries are missing the error says exactly what to install.
 */
import { spawn, ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface LocalService {
  /** URL clients should use. */
  url: string;
  /** True when this process started the server (and must stop it). */
  started: boolean;
  /** Process id of a server we started. */
  pid?: number;
  stop(): Promise<void>;
}

export interface LocalInfra {
  redis: LocalService;
  nats: LocalService;
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

/**
 * Starts a private redis-server on a free loopback port (no persistence unless `aof`: appendfsync everysec). Given a
 * `port` and a `dir` (kept on stop), a stopped server can be started again with its data, as `startNats` can.
 */
export async function startRedis(opts: { aof?: boolean; port?: number; dir?: string } = {}): Promise<LocalService> {
  const bin = findBinary('redis-server');
  if (!bin) throw new MissingBinaryError('redis-server');
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'imc-redis-'));
  const persistence = opts.aof ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no'];
  const proc = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  await waitFor(() => redisAnswers(url, 200), 'redis-server', proc);
  return {
    url,
    started: true,
    pid: proc.pid,
    stop: async () => {
      await stopProcess(proc);
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a private nats-server with JetStream on a free loopback port. */
export async function startNats(port?: number, storeDir?: string): Promise<LocalService> {
  const bin = findBinary('nats-server');
  if (!bin) throw new MissingBinaryError('nats-server');
  const p = port ?? (await freePort());
  const dir = storeDir ?? mkdtempSync(join(tmpdir(), 'imc-nats-'));
  const proc = spawn(bin, ['-a', '127.0.0.1', '-p', String(p), '-js', '-sd', dir], { stdio: 'ignore' });
  const url = `nats://127.0.0.1:${p}`;
  await waitFor(async () => !!(await natsInfo(url, 200)), 'nats-server', proc);
  return {
    url,
    started: true,
    pid: proc.pid,
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
}

/** Uses the configured Redis/NATS when they answer, otherwise starts private ones. */
export async function ensureLocalInfra(opts: EnsureOptions = {}): Promise<LocalInfra> {
  const log = opts.log ?? (() => undefined);
  const redisUrl = opts.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const natsUrl = opts.natsUrl ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const noop = async () => undefined;

  let redis: LocalService;
  if (await redisAnswers(redisUrl)) {
    redis = { url: redisUrl, started: false, stop: noop };
    log(`redis: using ${redisUrl}`);
  } else {
    log(`redis: nothing answers at ${redisUrl}; starting a private redis-server`);
    redis = await startRedis();
    log(`redis: started at ${redis.url}`);
  }

  let nats: LocalService;
  const info = await natsInfo(natsUrl);
  if (info && info.jetstream === true) {
    nats = { url: natsUrl, started: false, stop: noop };
    log(`nats: using ${natsUrl}`);
  } else {
    log(info ? `nats: ${natsUrl} has no JetStream; starting a private nats-server -js` : `nats: nothing answers at ${natsUrl}; starting a private nats-server -js`);
    try {
      nats = await startNats();
    } catch (e) {
      await redis.stop();
      throw e;
    }
    log(`nats: started at ${nats.url}`);
  }

  return {
    redis,
    nats,
    stop: async () => {
      await Promise.all([redis.stop(), nats.stop()]);
    },
  };
}
