/**
 * `npm run cluster:failover`: what a failover costs on the clustered shape, measured.
 *
 * First the single-node shape (one redis-server with `appendfsync always`, one nats-server) under the same load with
 * no fault, for the pairs/s it carries; then the clustered shape. Starts the Redis Cluster (3 primaries + 3 replicas) and the 3-node NATS cluster (test/support/cluster-topology.ts)
 * and two charging-enablers as separate processes (the built dist/), drives CH-2 reserve+debit pairs at a fixed
 * concurrency, and in turn kills with SIGKILL: a Redis primary (its replica takes over), a NATS node, an enabler.
 * A client does what the im-server does: it re-sends a request that got no answer or TOO_BUSY with the same requestId
 * until it is answered. For each fault it prints: requests that failed meanwhile, the time from the kill until the
 * last failure, the longest stretch without a successful answer, acknowledged writes lost (a debit answered SUCCESS
 * whose CDR is not in the ledger afterwards: Redis replication is asynchronous), items charged twice, and money
 * created or destroyed (per account: opening balance = balance + debited; `reserved` is a part of the balance).
 *
 * Bounded: FAILOVER_PHASE_MS per fault (default 6000) and FAILOVER_CONCURRENCY loops (default 32).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { connect } from 'nats';
import { Ch2Client } from '@imc/ch2';
import { freePort, natsConnectionOptions, startNats, startRedis } from '@imc/runtime';
import { ClusterNode, startClusterTopology } from '../support/cluster-topology';
import { waitHttp } from '../support/process-probes';

const ROOT = join(__dirname, '..', '..', '..');
const DIST = join(ROOT, 'dist');
const PHASE_MS = Number(process.env.FAILOVER_PHASE_MS ?? 6000);
const CONCURRENCY = Number(process.env.FAILOVER_CONCURRENCY ?? 32);
const ACCOUNTS = 64;
const OPENING = 100_000_000;
const TOKEN = 'failover-admin-token';
const SERVICE = 'im.deferred-retrieval';

interface Enabler {
  name: string;
  port: number;
  proc?: ChildProcess;
}

interface Sample {
  at: number;
  ok: boolean;
}

const say = (s: string) => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


interface Deployment {
  label: string;
  enablers: Enabler[];
  startEnabler(e: Enabler): Promise<void>;
  killEnabler(e: Enabler): Promise<void>;
  phase(name: string, fault?: () => Promise<void>, heal?: () => Promise<void>): Promise<PhaseRow>;
  verify(): Promise<{ acked: number; lost: number; twice: number; notConserved: number }>;
  close(): Promise<void>;
}

interface PhaseRow {
  name: string;
  pairsPerSecond: number;
  answered: number;
  failed: number;
  recoveredMs: number;
  longestGapMs: number;
}

const killProc = async (p?: ChildProcess) => {
  if (!p || p.exitCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await gone;
};

/** Two enablers on the given Redis and NATS, accounts with credit, and the CH-2 load that phases run. */
async function deploy(label: string, redisUrl: string, natsUrl: string): Promise<Deployment> {
  const id = randomBytes(3).toString('hex');
  const env = {
    ...process.env,
    REDIS_URL: redisUrl,
    NATS_URL: natsUrl,
    ADMIN_TOKEN: TOKEN,
    HTTP_HOST: '127.0.0.1',
    NATS_SUBJECT_PREFIX: `fo${id}.`,
    REDIS_KEY_PREFIX: `fo${id}:`,
    CDR_STREAM: `FO${id}`,
    TARIFFS_FILE: join(ROOT, 'deploy', 'tariffs.yaml'),
    LOG_LEVEL: 'error',
    LOG_FORMAT: 'json',
    NODE_ENV: 'production',
  };
  const enablers: Enabler[] = [{ name: 'enabler-1', port: await freePort() }, { name: 'enabler-2', port: await freePort() }];
  const startEnabler = async (e: Enabler) => {
    e.proc = spawn(process.execPath, [join(DIST, 'apps/charging-enabler/src/main.js')], { env: { ...env, HTTP_PORT: String(e.port) }, stdio: ['ignore', 'ignore', 'inherit'] });
    await waitHttp(`http://127.0.0.1:${e.port}/health/ready`, 60000);
  };
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`http://127.0.0.1:${enablers[0].port}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, json: (await r.json().catch(() => null)) as any };
  };
  await Promise.all(enablers.map(startEnabler));
  const subscribers = Array.from({ length: ACCOUNTS }, (_, i) => `sip:fo${id}u${i}@example.com`);
  for (const s of subscribers) {
    const r = await api('POST', '/v1/accounts', { subscriber: s, balance: OPENING, currency: 'EUR' });
    if (r.status !== 201) throw new Error(`account ${s}: ${r.status} ${JSON.stringify(r.json)}`);
  }
  const nc = await connect({ ...natsConnectionOptions(natsUrl), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const ch2 = new Ch2Client(nc, { subjectPrefix: env.NATS_SUBJECT_PREFIX, timeoutMs: 1000, retries: 0 });

  let samples: Sample[] = [];
  const acked: { subscriber: string; cdrId: string; requestId: string; at: number }[] = [];
  let stop = false;
  /** Sends until answered (not TOO_BUSY, not an error), with the same requestId, as the im-server's retry queue does. */
  async function until<T extends { result: string }>(send: () => Promise<T>): Promise<T | undefined> {
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      try {
        const r = await send();
        samples.push({ at: Date.now(), ok: r.result !== 'TOO_BUSY' });
        if (r.result !== 'TOO_BUSY') return r;
      } catch {
        samples.push({ at: Date.now(), ok: false });
      }
      await sleep(50);
    }
    return undefined;
  }
  const loop = async (w: number) => {
    for (let n = 0; !stop; n++) {
      const subscriber = subscribers[(w * 7 + n) % ACCOUNTS];
      const common = { subscriber, service: SERVICE, timestamp: new Date().toISOString() };
      const item = { id: randomUUID(), octets: 100 };
      const rs = await until(() => ch2.reserve({ ...common, requestId: `r-${randomUUID()}`, items: [item] }));
      if (!rs || rs.result !== 'SUCCESS' || !rs.reservationId) continue;
      const requestId = `d-${randomUUID()}`;
      const db = await until(() => ch2.debit({ ...common, requestId, reservationId: rs.reservationId!, itemId: item.id, outcome: 'delivered', octets: item.octets }));
      if (db?.result === 'SUCCESS' && db.cdrId) acked.push({ subscriber, cdrId: db.cdrId, requestId, at: Date.now() });
    }
  };

  return {
    label,
    enablers,
    startEnabler,
    killEnabler: (e) => killProc(e.proc),
    phase: async (name, fault, heal) => {
      samples = [];
      stop = false;
      const begin = Date.now();
      const ackedBefore = acked.length;
      const loops = Array.from({ length: CONCURRENCY }, (_, w) => loop(w));
      await sleep(PHASE_MS / 3);
      const killedAt = Date.now();
      await fault?.();
      await sleep((PHASE_MS * 2) / 3);
      stop = true;
      await Promise.all(loops);
      const seconds = (Date.now() - begin) / 1000;
      const after = samples.filter((s) => s.at >= killedAt);
      const failed = after.filter((s) => !s.ok);
      const lastFail = failed.length ? failed[failed.length - 1].at - killedAt : 0;
      const oks = [killedAt, ...after.filter((s) => s.ok).map((s) => s.at)];
      let gap = 0;
      for (let i = 1; i < oks.length; i++) gap = Math.max(gap, oks[i] - oks[i - 1]);
      await heal?.();
      return {
        name,
        pairsPerSecond: Math.round((acked.length - ackedBefore) / seconds),
        answered: samples.filter((s) => s.ok).length,
        failed: failed.length,
        recoveredMs: lastFail,
        longestGapMs: gap,
      };
    },
    verify: async () => {
      const cdrIds = new Set<string>();
      const debits = new Map<string, number>();
      let notConserved = 0;
      for (const s of subscribers) {
        let cursor: string | undefined;
        let debited = 0;
        do {
          const page = await api('GET', `/v1/cdrs?subscriber=${encodeURIComponent(s)}&type=debit&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
          for (const c of page.json.cdrs) {
            cdrIds.add(c.cdrId);
            debited += c.amount;
            debits.set(c.requestId, (debits.get(c.requestId) ?? 0) + 1);
          }
          cursor = page.json.nextCursor ?? undefined;
        } while (cursor);
        const a = (await api('GET', `/v1/accounts/${encodeURIComponent(s)}`)).json;
        // `reserved` is a part of `balance`: what left the account is exactly what was debited
        if (a.balance + debited !== OPENING) {
          notConserved++;
          if (process.env.FAILOVER_DEBUG) say(`${s}: balance ${a.balance} (of which reserved ${a.reserved}) debited ${debited} → ${a.balance + debited - OPENING}`);
        }
      }
      return {
        acked: acked.length,
        lost: acked.filter((a) => !cdrIds.has(a.cdrId)).length,
        twice: [...debits.values()].filter((n) => n > 1).length,
        notConserved,
      };
    },
    close: async () => {
      await nc.close();
      for (const e of enablers) await killProc(e.proc);
    },
  };
}

async function main(): Promise<void> {
  let failures = 0;
  const report = (label: string, v: Awaited<ReturnType<Deployment['verify']>>) => {
    say(`${label}: acknowledged debits ${v.acked}; lost afterwards ${v.lost}; charged twice ${v.twice}; accounts not conserved ${v.notConserved} of ${ACCOUNTS}`);
    failures += v.twice + v.notConserved;
  };

  say('failover: the single-node shape first (one redis-server with appendfsync always, one nats-server -js)…');
  const redis = await startRedis({ aof: true });
  const nats = await startNats();
  let single: PhaseRow;
  try {
    const dep = await deploy('single node', redis.url, nats.url);
    try {
      single = await dep.phase('single node, no fault');
      report('single node', await dep.verify());
    } finally {
      await dep.close();
    }
  } finally {
    await Promise.all([redis.stop(), nats.stop()]);
  }

  say('failover: a Redis Cluster (3+3) and a 3-node NATS cluster…');
  const cluster = await startClusterTopology({ log: (l) => say(`  ${l}`) });
  try {
    const dep = await deploy('cluster', cluster.redisUrl, cluster.natsUrl);
    try {
      const steady = await dep.phase('cluster, no fault');
      const rows: PhaseRow[] = [];
      const primary = (await cluster.primaries())[0];
      // the killed primary comes back as a replica of the node promoted in its place
      rows.push(await dep.phase(`Redis primary ${primary.name} (kill -9)`, () => cluster.kill(primary), () => cluster.restartRedis(primary)));
      const natsNode: ClusterNode = cluster.nats[1];
      rows.push(await dep.phase(`NATS node ${natsNode.name} (kill -9)`, () => cluster.kill(natsNode), () => cluster.restartNats(natsNode)));
      const victim = dep.enablers[1];
      rows.push(await dep.phase(`charging-enabler ${victim.name} (kill -9)`, () => dep.killEnabler(victim), () => dep.startEnabler(victim)));

      say(`\nreserve+debit pairs/s at concurrency ${CONCURRENCY}, two enablers, same run:`);
      say('| shape | pairs/s |');
      say('|---|---:|');
      say(`| single node (1 Redis, 1 NATS) | ${single.pairsPerSecond} |`);
      say(`| Redis Cluster 3+3, NATS cluster of 3 | ${steady.pairsPerSecond} |`);
      say('\n| fault | pairs/s in the phase | answered | failed meanwhile | last failure after kill | longest gap |');
      say('|---|---:|---:|---:|---:|---:|');
      for (const r of rows) say(`| ${r.name} | ${r.pairsPerSecond} | ${r.answered} | ${r.failed} | ${r.recoveredMs} ms | ${r.longestGapMs} ms |`);
      say('(failed meanwhile: requests that got no answer or TOO_BUSY and were re-sent with the same requestId)\n');
      report('cluster', await dep.verify());
    } finally {
      await dep.close();
    }
  } finally {
    await cluster.stop();
  }
  process.exitCode = failures ? 1 : 0;
}

main().catch((e: Error) => {
  process.stderr.write(`failover: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
