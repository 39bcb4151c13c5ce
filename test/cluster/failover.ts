/**
 * `npm run cluster:failover`: what a failover costs on the clustered shape, measured.
 *
 * Starts the Redis Cluster (3 primaries + 3 replicas) and the 3-node NATS cluster (test/support/cluster-topology.ts)
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
import { freePort, natsConnectionOptions } from '@imc/runtime';
import { ClusterNode, startClusterTopology } from '../support/cluster-topology';

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

async function ready(url: string, timeoutMs = 60000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

async function main(): Promise<void> {
  say('failover: starting a Redis Cluster (3+3) and a 3-node NATS cluster…');
  const cluster = await startClusterTopology({ log: (l) => say(`  ${l}`) });
  const id = randomBytes(3).toString('hex');
  const env = {
    ...process.env,
    REDIS_URL: cluster.redisUrl,
    NATS_URL: cluster.natsUrl,
    ADMIN_TOKEN: TOKEN,
    HTTP_HOST: '127.0.0.1',
    NATS_SUBJECT_PREFIX: `fo${id}.`,
    REDIS_KEY_PREFIX: `fo${id}:`,
    CDR_STREAM: `FO${id}`,
    TARIFFS_FILE: join(ROOT, 'deploy', 'tariffs.yaml'),
    LOG_LEVEL: 'error',
    NODE_ENV: 'production',
  };
  const enablers: Enabler[] = [{ name: 'enabler-1', port: await freePort() }, { name: 'enabler-2', port: await freePort() }];
  const startEnabler = async (e: Enabler) => {
    e.proc = spawn(process.execPath, [join(DIST, 'apps/charging-enabler/src/main.js')], { env: { ...env, HTTP_PORT: String(e.port) }, stdio: ['ignore', 'ignore', 'inherit'] });
    await ready(`http://127.0.0.1:${e.port}/health/ready`);
  };
  const killProc = async (p?: ChildProcess) => {
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  };
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`http://127.0.0.1:${enablers[0].port}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, json: (await r.json().catch(() => null)) as any };
  };
  try {
    await Promise.all(enablers.map(startEnabler));
    const subscribers = Array.from({ length: ACCOUNTS }, (_, i) => `sip:fo${id}u${i}@example.com`);
    for (const s of subscribers) {
      const r = await api('POST', '/v1/accounts', { subscriber: s, balance: OPENING, currency: 'EUR' });
      if (r.status !== 201) throw new Error(`account ${s}: ${r.status} ${JSON.stringify(r.json)}`);
    }
    const nc = await connect({ ...natsConnectionOptions(cluster.natsUrl), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const ch2 = new Ch2Client(nc, { subjectPrefix: env.NATS_SUBJECT_PREFIX, timeoutMs: 1000, retries: 0 });

    let samples: Sample[] = [];
    const acked: { subscriber: string; cdrId: string; requestId: string }[] = [];
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
        if (db?.result === 'SUCCESS' && db.cdrId) acked.push({ subscriber, cdrId: db.cdrId, requestId });
      }
    };

    const phase = async (name: string, fault: () => Promise<void>, heal: () => Promise<void>) => {
      samples = [];
      stop = false;
      const loops = Array.from({ length: CONCURRENCY }, (_, w) => loop(w));
      await sleep(PHASE_MS / 3);
      const killedAt = Date.now();
      await fault();
      await sleep((PHASE_MS * 2) / 3);
      stop = true;
      await Promise.all(loops);
      const after = samples.filter((s) => s.at >= killedAt);
      const failed = after.filter((s) => !s.ok);
      const lastFail = failed.length ? failed[failed.length - 1].at - killedAt : 0;
      const oks = [killedAt, ...after.filter((s) => s.ok).map((s) => s.at)];
      let gap = 0;
      for (let i = 1; i < oks.length; i++) gap = Math.max(gap, oks[i] - oks[i - 1]);
      const okCount = samples.filter((s) => s.ok).length;
      await heal();
      return { name, answered: okCount, failed: failed.length, recoveredMs: lastFail, longestGapMs: gap };
    };

    const rows = [];
    const primary = (await cluster.primaries())[0];
    rows.push(
      await phase(
        `Redis primary ${primary.name} (kill -9)`,
        () => cluster.kill(primary),
        async () => {
          await cluster.restartRedis(primary); // comes back as a replica of the promoted node
        },
      ),
    );
    const natsNode: ClusterNode = cluster.nats[1];
    rows.push(await phase(`NATS node ${natsNode.name} (kill -9)`, () => cluster.kill(natsNode), () => cluster.restartNats(natsNode)));
    rows.push(await phase(`charging-enabler ${enablers[1].name} (kill -9)`, () => killProc(enablers[1].proc), () => startEnabler(enablers[1])));

    // what the ledger says afterwards
    const cdrIds = new Set<string>();
    const debits = new Map<string, number>();
    let conservationErrors = 0;
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
      if (a.balance + debited !== OPENING) {
        conservationErrors++;
        if (process.env.FAILOVER_DEBUG) say(`${s}: balance ${a.balance} (of which reserved ${a.reserved}) debited ${debited} → ${a.balance + debited - OPENING}`);
      }
    }
    const lost = acked.filter((a) => !cdrIds.has(a.cdrId)).length;
    const twice = [...debits.values()].filter((n) => n > 1).length;

    say('\n| fault | answered | failed meanwhile | last failure after kill | longest gap | ');
    say('|---|---|---|---|---|');
    for (const r of rows) say(`| ${r.name} | ${r.answered} | ${r.failed} | ${r.recoveredMs} ms | ${r.longestGapMs} ms |`);
    say(`\nacknowledged debits: ${acked.length}; lost afterwards: ${lost}; charged twice: ${twice}; accounts not conserved: ${conservationErrors} of ${ACCOUNTS}`);
    say('(failed meanwhile: requests that got no answer or TOO_BUSY and were re-sent with the same requestId)');
    await nc.close();
    process.exitCode = twice || conservationErrors ? 1 : 0;
  } finally {
    for (const e of enablers) await killProc(e.proc);
    await cluster.stop();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`failover: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
