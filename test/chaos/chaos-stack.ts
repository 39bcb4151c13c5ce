/**
 * A whole stack for the chaos suite, every part a process of its own so it can be killed: a private redis-server
 * (AOF) and nats-server (JetStream) on free loopback ports — never the machine's shared ones — two Charging Enabler
 * replicas and an im-server run from the build (`dist/`, as operators run them). Each part can be killed with SIGKILL
 * or restarted on the same port with its data; readiness is the service's own "ready" log line, not a sleep.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, LocalService, startNats, startRedis } from '@imc/runtime';

const ROOT = join(__dirname, '..', '..');
const DIST = join(ROOT, 'dist');

/** One service process (im-server or charging-enabler) started from dist/, restartable with the same environment. */
export class ServiceProcess {
  private proc?: ChildProcess;
  private exited?: Promise<void>;
  /** The last lines it wrote (for a failure's message). */
  readonly tail: string[] = [];

  constructor(
    readonly name: string,
    private readonly main: string,
    readonly env: Record<string, string>,
    private readonly ready: RegExp,
  ) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Spawns the service and resolves once it logged its ready line (rejects if it exits first or takes > 30 s). */
  start(): Promise<void> {
    const file = join(DIST, this.main);
    if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build first (npm run test:chaos does)`);
    const proc = spawn(process.execPath, [file], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.exited = new Promise((r) => proc.once('exit', () => r()));
    return new Promise((resolve, reject) => {
      let buf = '';
      let up = false;
      const timer = setTimeout(() => reject(new Error(`${this.name} not ready within 30 s:\n${this.tail.join('\n')}`)), 30000);
      const onData = (d: Buffer) => {
        buf += d.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          this.tail.push(line);
          if (this.tail.length > 40) this.tail.shift();
          if (!up && this.ready.test(line)) {
            up = true;
            clearTimeout(timer);
            resolve();
          }
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code, signal) => {
        if (up) return;
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code ?? signal}) before it was ready:\n${this.tail.join('\n')}`));
      });
    });
  }

  /** kill -9: no shutdown hook runs, nothing in flight is finished. */
  async kill9(): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** A clean stop (SIGTERM), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const kill = setTimeout(() => this.proc?.kill('SIGKILL'), 10000);
    this.proc.kill('SIGTERM');
    await this.exited;
    clearTimeout(kill);
  }
}

export interface ChaosStackOptions {
  /** Extra environment of the im-server (e.g. CHARGING_POLICY). */
  im?: Record<string, string>;
}

export class ChaosStack {
  readonly adminToken = 'chaos-admin-token';
  readonly keyPrefix = 'chaos:';
  redis!: LocalService;
  nats!: LocalService;
  enablers: ServiceProcess[] = [];
  im!: ServiceProcess;
  private redisPort = 0;
  private natsPort = 0;
  private readonly redisDir = mkdtempSync(join(tmpdir(), 'imc-chaos-redis-'));
  private readonly natsDir = mkdtempSync(join(tmpdir(), 'imc-chaos-nats-'));
  sipWsUrl = '';
  imHttp = 0;
  enablerHttp: number[] = [];

  async start(opts: ChaosStackOptions = {}): Promise<void> {
    [this.redisPort, this.natsPort] = await Promise.all([freePort(), freePort()]);
    this.redis = await startRedis({ aof: true, port: this.redisPort, dir: this.redisDir });
    this.nats = await startNats(this.natsPort, this.natsDir);
    const common = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      REDIS_URL: this.redis.url,
      NATS_URL: this.nats.url,
      ADMIN_TOKEN: this.adminToken,
      REDIS_KEY_PREFIX: this.keyPrefix,
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      RESERVATION_VALIDITY_SECONDS: '10',
    };
    this.enablerHttp = [await freePort(), await freePort()];
    this.enablers = this.enablerHttp.map(
      (port, i) =>
        new ServiceProcess(
          `charging-enabler ${i + 1}`,
          'apps/charging-enabler/src/main.js',
          {
            ...common,
            HTTP_PORT: String(port),
            TARIFFS_FILE: join(ROOT, 'test', 'fixtures', 'tariffs.test.yaml'),
            CDR_STREAM: 'CHAOS',
            EXPIRY_SWEEP_MS: '200',
            CDR_RELAY_INTERVAL_MS: '100',
            LEDGER_SHARDS: '4',
          },
          /charging enabler ready/,
        ),
    );
    const [udp, tcp, ws, mtcp, mws, http] = await Promise.all(Array.from({ length: 6 }, () => freePort()));
    this.imHttp = http;
    this.sipWsUrl = `ws://127.0.0.1:${ws}`;
    this.im = new ServiceProcess(
      'im-server',
      'apps/im-server/src/main.js',
      {
        ...common,
        HTTP_PORT: String(http),
        SIP_DOMAIN: 'example.com',
        SIP_BIND_HOST: '127.0.0.1',
        SIP_ADVERTISED_HOST: '127.0.0.1',
        SIP_UDP_PORT: String(udp),
        SIP_TCP_PORT: String(tcp),
        SIP_WS_PORT: String(ws),
        MSRP_TCP_PORT: String(mtcp),
        MSRP_WS_PORT: String(mws),
        SIP_T1_MS: '50',
        SIP_T2_MS: '200',
        SIP_T4_MS: '250',
        MSRP_TRANSACTION_TIMEOUT_MS: '3000',
        // a window smaller than the bulk: the chaos at the AT-th message finds most SENDs not yet written
        MSRP_SEND_WINDOW: '16',
        MSRP_CONNECT_TIMEOUT_MS: '5000',
        IM_SESSION_IDLE_SECONDS: '1',
        CHARGING_TIMEOUT_MS: '500',
        CHARGING_RETRIES: '1',
        CHARGING_RETRY_INTERVAL_MS: '100',
        SHUTDOWN_DEADLINE_MS: '500',
        ...opts.im,
      },
      /im-server ready/,
    );
    await Promise.all(this.enablers.map((e) => e.start()));
    await this.im.start();
  }

  /** Stops the im-server cleanly and starts it again with `env` added to its environment (e.g. another policy). */
  async restartIm(env: Record<string, string>): Promise<void> {
    await this.im.stop();
    Object.assign(this.im.env, env);
    await this.im.start();
  }

  /** Stops Redis cleanly (its AOF is flushed) and starts it again on the same port with the same data. */
  async restartRedis(): Promise<void> {
    await this.redis.stop();
    this.redis = await startRedis({ aof: true, port: this.redisPort, dir: this.redisDir });
  }

  /** Stops NATS and starts it again on the same port with the same JetStream store. */
  async restartNats(): Promise<void> {
    await this.nats.stop();
    this.nats = await startNats(this.natsPort, this.natsDir);
  }

  async close(): Promise<void> {
    await this.im?.stop().catch(() => undefined);
    await Promise.all(this.enablers.map((e) => e.stop().catch(() => undefined)));
    await this.nats?.stop().catch(() => undefined);
    await this.redis?.stop().catch(() => undefined);
    rmSync(this.redisDir, { recursive: true, force: true });
    rmSync(this.natsDir, { recursive: true, force: true });
  }

  /** The enabler's or the im-server's admin HTTP API. */
  async admin(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.adminToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any = text;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, json };
  }

  /** An admin call to whichever enabler replica answers (one may be dead). */
  async enablerAdmin(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    let last: unknown;
    for (const port of this.enablerHttp) {
      try {
        return await this.admin(port, method, path, body);
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }
}
