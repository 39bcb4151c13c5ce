/**
 * The clustered shape of the product on loopback ports, for tests and for a person to try (`npm run cluster:up`):
 *
 *   - a NATS cluster of 3 nats-server nodes, fully routed, JetStream on each (so a stream can be R3);
 *   - a Redis Cluster of 3 primaries + 3 replicas (`redis-cli --cluster create … --cluster-replicas 1`), AOF with
 *     `appendfsync always` on every node, as deploy/redis/redis.conf asks of a single node.
 *
 * Every node keeps its files in a folder of its own under one base directory, so a node killed with SIGKILL can be
 * started again on the same port and data (`restartRedis`, `restartNats`). The services (enablers, im-servers) and
 * the SIP edge are started by the callers on top of `redisUrl` / `natsUrl`: the product needs no other setting to
 * run here (several comma-separated Redis URLs select the Cluster client, several NATS URLs the server list).
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findBinary, freePort, MissingBinaryError, natsInfo, redisAnswers } from '../../libs/runtime/src/local-infra';

const run = promisify(execFile);

export interface ClusterNode {
  name: string;
  port: number;
  /** Redis: the cluster bus port (set explicitly, so that port + 10000 never collides with anything). */
  busPort?: number;
  dir: string;
  proc?: ChildProcess;
}

export interface ClusterTopology {
  /** Comma-separated URLs of every Redis node: what REDIS_URL takes for a Redis Cluster. */
  redisUrl: string;
  /** Comma-separated URLs of every NATS node: what NATS_URL takes for a NATS cluster. */
  natsUrl: string;
  redis: ClusterNode[];
  nats: ClusterNode[];
  /** SIGKILL a node (no shutdown, no final fsync beyond what the node did on its own). */
  kill(node: ClusterNode): Promise<void>;
  restartRedis(node: ClusterNode): Promise<void>;
  restartNats(node: ClusterNode): Promise<void>;
  /** The Redis nodes that are primaries now, by `CLUSTER NODES` as one live node sees it. */
  primaries(): Promise<ClusterNode[]>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Folder for every node's files; a fresh temporary one (deleted by stop()) when absent. */
  baseDir?: string;
  log?: (line: string) => void;
  /** Milliseconds a primary may be unreachable before its replica takes over (redis `cluster-node-timeout`). */
  redisNodeTimeoutMs?: number;
}

function waitExit(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
  });
}

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let v: T | undefined | false;
    try {
      v = await check();
    } catch (e) {
      if (/exited/.test((e as Error).message)) throw e;
      v = undefined;
    }
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`cluster: ${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function startClusterTopology(opts: ClusterOptions = {}): Promise<ClusterTopology> {
  const redisBin = findBinary('redis-server');
  const redisCli = findBinary('redis-cli');
  const natsBin = findBinary('nats-server');
  if (!redisBin || !redisCli) throw new MissingBinaryError('redis-server');
  if (!natsBin) throw new MissingBinaryError('nats-server');
  const log = opts.log ?? (() => undefined);
  const owned = !opts.baseDir;
  const base = opts.baseDir ?? mkdtempSync(join(tmpdir(), 'imc-cluster-'));
  const nodeTimeout = opts.redisNodeTimeoutMs ?? 2000;

  const redis: ClusterNode[] = [];
  for (let i = 0; i < 6; i++) {
    const [port, busPort] = [await freePort(), await freePort()];
    const dir = join(base, `redis-${i + 1}`);
    mkdirSync(dir, { recursive: true });
    redis.push({ name: `redis-${i + 1}`, port, busPort, dir });
  }
  const nats: ClusterNode[] = [];
  const routePorts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const [port, route] = [await freePort(), await freePort()];
    const dir = join(base, `nats-${i + 1}`);
    mkdirSync(dir, { recursive: true });
    nats.push({ name: `nats-${i + 1}`, port, dir });
    routePorts.push(route);
  }

  const startRedisNode = async (n: ClusterNode) => {
    const proc = spawn(
      redisBin,
      [
        '--port', String(n.port), '--bind', '127.0.0.1', '--dir', n.dir,
        '--cluster-enabled', 'yes', '--cluster-port', String(n.busPort), '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(nodeTimeout),
        '--appendonly', 'yes', '--appendfsync', 'always', '--save', '',
      ],
      { stdio: 'ignore' },
    );
    n.proc = proc;
    await until(`${n.name} answering on ${n.port}`, async () => {
      if (proc.exitCode !== null) throw new Error(`${n.name} exited with code ${proc.exitCode} (port ${n.port} taken?)`);
      return redisAnswers(`redis://127.0.0.1:${n.port}`, 200);
    }, 60000);
  };
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const startNatsNode = async (n: ClusterNode, i: number) => {
    n.proc = spawn(
      natsBin,
      [
        '-a', '127.0.0.1', '-p', String(n.port), '-n', n.name, '-js', '-sd', n.dir,
        '--cluster_name', 'imc', '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes,
      ],
      { stdio: 'ignore' },
    );
    const proc = n.proc;
    await until(`${n.name} answering on ${n.port}`, async () => {
      if (proc.exitCode !== null) throw new Error(`${n.name} exited with code ${proc.exitCode} (port ${n.port} taken?)`);
      return !!(await natsInfo(`nats://127.0.0.1:${n.port}`, 200));
    }, 60000);
  };

  const topology: ClusterTopology = {
    redisUrl: redis.map((n) => `redis://127.0.0.1:${n.port}`).join(','),
    natsUrl: nats.map((n) => `nats://127.0.0.1:${n.port}`).join(','),
    redis,
    nats,
    kill: async (n) => {
      if (!n.proc) return;
      n.proc.kill('SIGKILL');
      await waitExit(n.proc);
      n.proc = undefined;
    },
    restartRedis: async (n) => startRedisNode(n),
    restartNats: async (n) => startNatsNode(n, nats.indexOf(n)),
    primaries: async () => {
      const live = redis.find((n) => n.proc);
      if (!live) return [];
      const { stdout } = await run(redisCli, ['-p', String(live.port), 'cluster', 'nodes']);
      const ports = stdout
        .split('\n')
        .filter((l) => / master /.test(` ${l.split(' ')[2]?.replace(/,/g, ' ')} `) && !/fail/.test(l.split(' ')[2] ?? ''))
        .map((l) => Number(l.split(' ')[1].split('@')[0].split(':')[1]));
      return redis.filter((n) => ports.includes(n.port));
    },
    stop: async () => {
      for (const n of [...redis, ...nats]) if (n.proc) n.proc.kill('SIGTERM');
      await Promise.all([...redis, ...nats].map((n) => (n.proc ? waitExit(n.proc) : undefined)));
      if (owned) rmSync(base, { recursive: true, force: true });
    },
  };

  try {
    await Promise.all(redis.map(startRedisNode));
    log(`redis: 6 nodes on ${redis.map((n) => n.port).join(', ')}`);
    await run(redisCli, ['--cluster', 'create', ...redis.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes']);
    await until('redis cluster_state:ok on every node', async () => {
      for (const n of redis) {
        const { stdout } = await run(redisCli, ['-p', String(n.port), 'cluster', 'info']);
        if (!/cluster_state:ok/.test(stdout)) return false;
      }
      return true;
    });
    log('redis: cluster of 3 primaries + 3 replicas is ok');
    await Promise.all(nats.map(startNatsNode));
    // JetStream in clustered mode answers once a meta leader is elected; a replicated stream needs every peer.
    await until('nats JetStream meta leader', async () => {
      const r = await fetchJsz(nats);
      return r;
    });
    log(`nats: 3 routed nodes on ${nats.map((n) => n.port).join(', ')} with JetStream`);
  } catch (e) {
    await topology.stop();
    throw e;
  }
  return topology;
}

/** True once a JetStream request succeeds on the cluster (meta leader elected, peers known). */
async function fetchJsz(nats: ClusterNode[]): Promise<boolean> {
  const { connect } = await import('nats');
  const nc = await connect({ servers: nats.map((n) => `nats://127.0.0.1:${n.port}`), timeout: 1000 });
  try {
    const jsm = await nc.jetstreamManager({ timeout: 1000 });
    const info = await jsm.getAccountInfo();
    return !!info;
  } catch {
    return false;
  } finally {
    await nc.close();
  }
}
