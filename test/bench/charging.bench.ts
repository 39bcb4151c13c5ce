/**
 * bench:charging — reserve+debit pairs per second and p50/p99 latency through the real Charging Enabler (its own
 * process, NATS + Redis), at concurrency 1, 64 and 256, with the raw NATS request/reply rate measured in the same
 * run as the ceiling (an echo responder in its own process, same envelope size). Prints a table, writes JSON.
 * Not a test: it never fails on a figure.
 */
import { spawn, ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { connect, NatsConnection } from 'nats';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Ch2Client, NatsRequester } from '@imc/ch2';
import { createRedis, ensureLocalInfra, freePort } from '@imc/runtime';
import { RedisCreditLedger } from '../../apps/charging-enabler/src/ledger/redis-credit-ledger';
import { LedgerKeys } from '../../apps/charging-enabler/src/ledger/ledger-keys';
import { waitHttp } from '../support/process-probes';
import { inspectorArgs, MemoryWatch } from './memory';

const ROOT = join(__dirname, '..', '..', '..');
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 4000);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,64,256').split(',').map(Number);
/**
 * Each row first runs its load unmeasured for this long (BENCH_WARMUP_MS): every row starts fresh generator threads,
 * whose first few hundred ms are JIT compilation, not the system under test. Latencies, rates and CPU per operation
 * count only what follows.
 */
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 500);

interface Row {
  what: string;
  concurrency: number;
  ops: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  /** CPU time per operation (µs) by process, while the row ran (Linux /proc). */
  cpuUsPerOp?: Record<string, number>;
  /** Read and write system calls per operation by process, while the row ran (Linux /proc/<pid>/io). */
  syscallsPerOp?: Record<string, { reads: number; writes: number }>;
  /** The Redis server's own CPU per operation (µs, main thread, from its INFO cpu), and its commands per operation. */
  redis?: { cpuUsPerOp: number; callsPerOp: number; commands: Record<string, number> };
  /** Operations run in the row's unmeasured warm-up (they still charge and write CDRs). */
  warmupOps?: number;
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * `concurrency` loops of `op`: WARMUP_MS unmeasured (then `onMeasuring`), then DURATION_MS measured. An operation
 * counts when it started inside the measured window.
 */
async function run(what: string, concurrency: number, op: () => Promise<unknown>, onMeasuring?: () => void): Promise<Row> {
  const lat: number[] = [];
  const t0 = performance.now() + WARMUP_MS;
  const end = t0 + DURATION_MS;
  let warmupOps = 0;
  const mark = setTimeout(() => onMeasuring?.(), WARMUP_MS);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await op();
        if (t >= t0) lat.push(performance.now() - t);
        else warmupOps++;
      }
    }),
  );
  clearTimeout(mark);
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { what, concurrency, ops: lat.length, perSecond: Math.round(lat.length / secs), p50ms: +pct(lat, 50).toFixed(2), p99ms: +pct(lat, 99).toFixed(2), warmupOps };
}

const ONE_PROC_ROW = 'raw NATS request/reply, one process (issue)';
const RAW_ROW = 'raw NATS request/reply, echo process';
const PAIR_ROW = 'reserve+debit pair';
const LUA_ROW = 'Lua reserve+debit pair over ioredis (no NATS, no enabler)';

const THREADS = Number(process.env.BENCH_THREADS ?? 2);
/** BENCH_TRACE=1: per generator thread, when the slow pairs (> 15 ms) started, its GC pauses and loop delay. */
const TRACE = !!process.env.BENCH_TRACE;

interface LoadSpec {
  kind: 'raw' | 'pair';
  natsUrl: string;
  prefix: string;
  sub: string;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
}

interface ThreadResult {
  lat: number[];
  secs: number;
  warmupOps: number;
}

/**
 * Load-generator thread: its own NATS connection, `concurrency` loops, `warmupMs` unmeasured (then it posts
 * `'measuring'`), then `durationMs` measured; posts the latencies (ms) of the operations started in that window.
 */
async function loadThread(spec: LoadSpec): Promise<ThreadResult> {
  const nc = await connect({ servers: spec.natsUrl, noAsyncTraces: true });
  const ch2 = new Ch2Client(nc, { subjectPrefix: spec.prefix, timeoutMs: 10000, retries: 0 });
  // the ceiling uses the same request/reply path as the CH-2 client (one shared reply subscription)
  const requester = new NatsRequester(nc);
  const sample = new TextEncoder().encode(
    JSON.stringify({ pattern: `${spec.prefix}echo`, data: { requestId: randomUUID(), subscriber: spec.sub, service: 'im.deferred-retrieval', timestamp: new Date().toISOString(), items: [{ id: 'm1', octets: 1024 }] }, id: randomUUID() }),
  );
  const now = new Date().toISOString();
  const op =
    spec.kind === 'raw'
      ? () => requester.request(`${spec.prefix}echo`, sample, 10000)
      : async () => {
          // a message of its own per pair: a message already charged would be settled without a charge (charge-once)
          const itemId = randomUUID();
          const r = await ch2.reserve({ requestId: randomUUID(), subscriber: spec.sub, service: 'im.deferred-retrieval', timestamp: now, items: [{ id: itemId, octets: 1024 }] });
          if (r.result !== 'SUCCESS') throw new Error(`reserve: ${r.result}`);
          const d = await ch2.debit({ requestId: randomUUID(), subscriber: spec.sub, service: 'im.deferred-retrieval', timestamp: now, reservationId: r.reservationId!, itemId, outcome: 'delivered', octets: 1024 });
          if (d.result !== 'SUCCESS') throw new Error(`debit: ${d.result}`);
        };
  const lat: number[] = [];
  const starts: number[] = [];
  const gcs: number[] = [];
  const obs = TRACE ? new PerformanceObserver((l) => l.getEntries().forEach((e) => gcs.push(e.duration))) : undefined;
  obs?.observe({ entryTypes: ['gc'] });
  const eld = monitorEventLoopDelay({ resolution: 1 });
  if (TRACE) eld.enable();
  const t0 = performance.now() + spec.warmupMs;
  const end = t0 + spec.durationMs;
  let warmupOps = 0;
  const mark = setTimeout(() => parentPort?.postMessage('measuring'), spec.warmupMs);
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await op();
        if (t < t0) {
          warmupOps++;
          continue;
        }
        lat.push(performance.now() - t);
        if (TRACE) starts.push(t);
      }
    }),
  );
  clearTimeout(mark);
  const secs = (performance.now() - t0) / 1000;
  await nc.close();
  if (TRACE && spec.kind === 'pair' && spec.concurrency > 1) {
    console.error(`[trace] generator thread GC: ${gcs.length} pauses, ${gcs.filter((d) => d > 5).length} over 5 ms, max ${Math.max(0, ...gcs).toFixed(1)} ms; loop delay p99 ${(eld.percentile(99) / 1e6).toFixed(1)} max ${(eld.max / 1e6).toFixed(1)} ms`);
    // BENCH_TRACE=1: when did the slow pairs start? clustered in time = stalls; spread out = queueing
    const slow = lat.map((l, k) => [starts[k] - t0, l]).filter(([, l]) => l > 15);
    const buckets = new Map<number, number>();
    for (const [at] of slow) buckets.set(Math.floor(at / 100), (buckets.get(Math.floor(at / 100)) ?? 0) + 1);
    console.error(`[trace] ${slow.length} of ${lat.length} pairs > 15 ms; per 100 ms window: ${[...buckets].map(([w, n]) => `${w * 100}:${n}`).join(' ')}`);
  }
  return { lat, secs, warmupOps };
}

/** One row measured by THREADS load-generator threads sharing `concurrency` (so the generator is not the limit). */
async function runThreaded(what: string, spec: Omit<LoadSpec, 'concurrency' | 'warmupMs'>, concurrency: number, onMeasuring?: () => void): Promise<Row> {
  const threads = Math.max(1, Math.min(THREADS, concurrency));
  let measuring = 0;
  const parts = await Promise.all(
    Array.from({ length: threads }, (_, i) => {
      const share = Math.floor(concurrency / threads) + (i < concurrency % threads ? 1 : 0);
      return new Promise<ThreadResult>((resolve, reject) => {
        const w = new Worker(__filename, { workerData: { ...spec, warmupMs: WARMUP_MS, concurrency: share } });
        w.on('message', (m: ThreadResult | 'measuring') => {
          if (m !== 'measuring') resolve(m);
          else if (++measuring === threads) onMeasuring?.();
        });
        w.once('error', reject);
      });
    }),
  );
  const lat = parts.flatMap((p) => p.lat).sort((a, b) => a - b);
  const secs = Math.max(...parts.map((p) => p.secs));
  const warmupOps = parts.reduce((n, p) => n + p.warmupOps, 0);
  return { what, concurrency, ops: lat.length, perSecond: Math.round(lat.length / secs), p50ms: +pct(lat, 50).toFixed(2), p99ms: +pct(lat, 99).toFixed(2), warmupOps };
}

/** CPU seconds (user + system) used so far by a process, from /proc (Linux); undefined elsewhere. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/** Read and write system calls made so far by a process (all its threads), from /proc; undefined elsewhere. */
function syscalls(pid: number): { reads: number; writes: number } | undefined {
  try {
    const t = readFileSync(`/proc/${pid}/io`, 'utf8');
    return { reads: Number(/syscr: (\d+)/.exec(t)![1]), writes: Number(/syscw: (\d+)/.exec(t)![1]) };
  } catch {
    return undefined;
  }
}

/** The Redis server's main-thread CPU seconds and its command count so far (INFO): exact for that server, shared or not. */
async function redisUsage(redis: Redis): Promise<{ cpu: number; calls: number; commands: Record<string, number> }> {
  const cpu = await redis.info('cpu');
  const stats = await redis.info('commandstats');
  const num = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(cpu)?.[1] ?? NaN);
  const commands: Record<string, number> = {};
  for (const m of stats.matchAll(/^cmdstat_(?!info)([^:]+):calls=(\d+)/gm)) commands[m[1]] = Number(m[2]);
  const calls = Object.values(commands).reduce((a, b) => a + b, 0);
  return { cpu: num('used_cpu_user_main_thread') + num('used_cpu_sys_main_thread'), calls, commands };
}

/** Processes whose command name is `name` (e.g. the shared nats-server / redis-server). */
function pidsNamed(name: string): number[] {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return readFileSync(`/proc/${d}/comm`, 'utf8').trim() === name;
        } catch {
          return false;
        }
      })
      .map(Number);
  } catch {
    return [];
  }
}

function child(args: string[], env: Record<string, string>, inspector: string[] = []): ChildProcess {
  // BENCH_PROFILE=1 writes a V8 CPU profile of the enabler to bench-results/ (open it in Chrome DevTools)
  if (process.env.BENCH_PROFILE && args[0]?.endsWith('main.js')) args = ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench-results')}`, ...args];
  // BENCH_ENABLER_NODE_FLAGS (space-separated) tries V8/Node flags on the enabler only
  if (process.env.BENCH_ENABLER_NODE_FLAGS && args[0]?.endsWith('main.js')) args = [...process.env.BENCH_ENABLER_NODE_FLAGS.split(' '), ...args];
  args = [...inspector, ...args];
  return spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
}


/** The echo responder both ceilings use: answers a Nest envelope with its data, as a CH-2 handler would. */
const RESPONDER = `
  const enc = new TextEncoder(), dec = new TextDecoder();
  const echo = (_e, m) => {
    const req = JSON.parse(dec.decode(m.data));
    m.respond(enc.encode(JSON.stringify({ err: null, response: req.data, isDisposed: true, id: req.id })));
  };`;

const ECHO = `
const { connect } = require('nats');
(async () => {
  const nc = await connect({ servers: process.env.NATS_URL });${RESPONDER}
  nc.subscribe(process.env.SUBJECT, { queue: 'echo', callback: echo });
  process.on('SIGTERM', () => nc.close().then(() => process.exit(0)));
})();`;

/**
 * The ceiling as the issue measured it ("raw NATS request/reply … one process, both ends"): responder and requester
 * in one Node process, nats.js `request()`, `C` loops, `WARM` ms unmeasured then `MS` ms measured; prints
 * `{secs, lat}` as JSON.
 */
const ONE_PROCESS = `
const { connect } = require('nats');
(async () => {
  const nc = await connect({ servers: process.env.NATS_URL });${RESPONDER}
  const subject = process.env.SUBJECT;
  nc.subscribe(subject, { callback: echo });
  const sample = enc.encode(process.env.SAMPLE);
  const lat = [];
  const t0 = performance.now() + Number(process.env.WARM), end = t0 + Number(process.env.MS);
  await Promise.all(Array.from({ length: Number(process.env.C) }, async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await nc.request(subject, sample, { timeout: 10000 });
      if (t >= t0) lat.push(performance.now() - t);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  await nc.close();
  process.stdout.write(JSON.stringify({ secs, lat }));
})();`;

async function runOneProcess(what: string, natsUrl: string, subject: string, sample: string, concurrency: number): Promise<Row> {
  const p = spawn(process.execPath, ['-e', ONE_PROCESS], {
    env: { ...process.env, NATS_URL: natsUrl, SUBJECT: subject, SAMPLE: sample, C: String(concurrency), MS: String(DURATION_MS), WARM: String(WARMUP_MS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d));
  const code = await new Promise((r) => p.once('exit', r));
  if (code !== 0) throw new Error(`one-process ceiling exited with ${code}`);
  const { secs, lat } = JSON.parse(out) as { secs: number; lat: number[] };
  lat.sort((a, b) => a - b);
  return { what, concurrency, ops: lat.length, perSecond: Math.round(lat.length / secs), p50ms: +pct(lat, 50).toFixed(2), p99ms: +pct(lat, 99).toFixed(2) };
}

/**
 * The issue's other reference ("an atomic Lua reserve+debit pair … over ioredis"): the enabler's own ledger scripts
 * called from this process, `concurrency` loops, on keys of their own; shows what Redis alone allows.
 */
async function runLuaPairs(redisUrl: string, keyPrefix: string, concurrency: number, onMeasuring?: () => void): Promise<Row> {
  const redis = createRedis(redisUrl, { batchWrites: true }); // as the enabler's ledger client
  const ledger = new RedisCreditLedger(redis, new LedgerKeys(keyPrefix, 16), 86400);
  const sub = `sip:lua-${keyPrefix}@example.com`;
  await ledger.createAccount({ subscriber: sub, balance: 1e13, currency: 'EUR', nowIso: new Date().toISOString() });
  const row = await run(LUA_ROW, concurrency, async () => {
    const itemId = randomUUID(); // a message of its own per pair (charge-once)
    const r = await ledger.reserve({ requestId: randomUUID(), subscriber: sub, service: 'im.deferred-retrieval', currency: 'EUR', unitPrice: 6, validitySeconds: 120, items: [{ id: itemId }], prices: [6], nowMs: Date.now() });
    if (r.result !== 'SUCCESS') throw new Error(`reserve: ${r.json}`);
    const d = await ledger.debit({ requestId: randomUUID(), subscriber: sub, reservationId: r.response.reservationId as string, itemId, outcome: 'delivered', octets: 1024, service: 'im.deferred-retrieval', amount: 6, unitPrice: 6, nowIso: new Date().toISOString(), atMs: Date.now() });
    if (d.result !== 'SUCCESS') throw new Error(`debit: ${d.json}`);
  }, onMeasuring);
  await redis.quit();
  return row;
}

/** p50/p99 upper bounds per subject from a Prometheus histogram (bucket resolution). */
function enablerTimes(text: string): string {
  const out: string[] = [];
  for (const subject of ['ch2.reserve', 'ch2.debit']) {
    const buckets: [number, number][] = [];
    const re = new RegExp(`^ch2_request_duration_seconds_bucket\\{le="([^"]+)",subject="${subject.replace('.', '\\.')}"\\} (\\d+)`, 'gm');
    for (const m of text.matchAll(re)) buckets.push([m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
    const total = buckets.at(-1)?.[1] ?? 0;
    if (!total) continue;
    const q = (p: number) => buckets.find(([, c]) => c >= p * total)?.[0];
    out.push(`${subject} p50 ≤ ${(q(0.5)! * 1000).toFixed(1)} ms, p99 ≤ ${(q(0.99)! * 1000).toFixed(1)} ms`);
  }
  return out.join('; ');
}

/** Removes the run's keys (the bench leaves nothing behind in a shared Redis). */
async function dropKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  await redis.quit();
}

async function main(): Promise<void> {
  const infra = await ensureLocalInfra({ log: (l) => console.error(`[bench] ${l}`) });
  const id = randomBytes(3).toString('hex');
  const prefix = `bench${id}.`;
  const httpPort = await freePort();
  const env = {
    NATS_URL: infra.nats.url,
    REDIS_URL: infra.redis.url,
    NATS_SUBJECT_PREFIX: prefix,
    REDIS_KEY_PREFIX: `bench${id}:`,
    CDR_STREAM: `BENCH${id}`,
    HTTP_PORT: String(httpPort),
    HTTP_HOST: '127.0.0.1',
    ADMIN_TOKEN: 'bench',
    LOG_LEVEL: 'error',
    TARIFFS_FILE: join(ROOT, 'deploy', 'tariffs.yaml'),
    ...(process.env.CDR_RELAY_INTERVAL_MS ? { CDR_RELAY_INTERVAL_MS: process.env.CDR_RELAY_INTERVAL_MS } : {}),
  };
  const echo = child(['-e', ECHO], { NATS_URL: infra.nats.url, SUBJECT: `${prefix}echo` });
  const inspector = await inspectorArgs();
  const enabler = child([join(ROOT, 'dist', 'apps', 'charging-enabler', 'src', 'main.js')], env, inspector.args);
  // the generator's load runs in worker threads of this process: its RSS includes theirs
  const memory = new MemoryWatch().track('charging-enabler', enabler.pid!, { inspectorPort: inspector.port }).track('echo responder', echo.pid!).trackSelf('bench process (generator threads, Lua-pairs client)');
  const nc: NatsConnection = await connect({ servers: infra.nats.url, noAsyncTraces: true });
  const rows: Row[] = [];
  let relayNote = '';
  let inside = '';
  try {
    await waitHttp(`http://127.0.0.1:${httpPort}/health/ready`);
    const sub = `sip:bench-${id}@example.com`;
    await fetch(`http://127.0.0.1:${httpPort}/v1/accounts`, {
      method: 'POST',
      headers: { authorization: 'Bearer bench', 'content-type': 'application/json' },
      body: JSON.stringify({ subscriber: sub, balance: 1e13, currency: 'EUR' }),
    });
    const enc = new TextEncoder();
    const sample = enc.encode(
      JSON.stringify({ pattern: `${prefix}echo`, data: { requestId: randomUUID(), subscriber: sub, service: 'im.deferred-retrieval', timestamp: new Date().toISOString(), items: [{ id: 'm1', octets: 1024 }] }, id: randomUUID() }),
    );
    // warm-up of both paths (JIT, young-generation sizing), not measured
    await run('warm-up', 16, () => nc.request(`${prefix}echo`, sample, { timeout: 10000 }));
    const spec = { natsUrl: infra.nats.url, prefix, sub, durationMs: DURATION_MS };
    const warm = await runThreaded('warm-up', { ...spec, kind: 'pair', durationMs: 1500 }, 16);
    // where the CPU goes, per operation: the generator (this process), the echo responder or the enabler, and the
    // shared nats-server / redis-server (whichever this run uses)
    const procs: Record<string, number[]> = {
      generator: [process.pid],
      echo: [echo.pid!],
      enabler: [enabler.pid!],
      'nats-server': pidsNamed('nats-server'),
      'redis-server': pidsNamed('redis-server'),
    };
    // CPU is read when the row's warm-up ends and when it stops
    const own = { generator: process.pid, echo: echo.pid!, enabler: enabler.pid! };
    const redisInfo = new Redis(infra.redis.url);
    const measured = async (row: (onMeasuring: () => void) => Promise<Row>): Promise<Row> => {
      const cpu = () => Object.fromEntries(Object.entries(procs).map(([k, pids]) => [k, pids.reduce((s, p) => s + (cpuSeconds(p) ?? NaN), 0)]));
      const calls = () => Object.entries(own).map(([k, pid]) => [k, syscalls(pid)] as const);
      let before = cpu();
      let callsBefore = calls();
      let redisBefore: ReturnType<typeof redisUsage> | undefined;
      const r = await row(() => {
        before = cpu();
        callsBefore = calls();
        redisBefore = redisUsage(redisInfo);
      });
      const after = cpu();
      const callsAfter = calls();
      const redisAfter = await redisUsage(redisInfo);
      r.cpuUsPerOp = Object.fromEntries(Object.keys(procs).map((k) => [k, Math.round(((after[k] - before[k]) * 1e6) / r.ops)]).filter(([, v]) => Number.isFinite(v as number)));
      const per = (n: number) => +(n / r.ops).toFixed(1);
      r.syscallsPerOp = Object.fromEntries(
        callsAfter.flatMap(([k, a], i) => {
          const b = callsBefore[i][1];
          return a && b ? [[k, { reads: per(a.reads - b.reads), writes: per(a.writes - b.writes) }]] : [];
        }),
      );
      const rb = await redisBefore;
      const commands = Object.fromEntries(
        Object.entries(redisAfter.commands)
          .map(([k, n]) => [k, per(n - (rb?.commands[k] ?? 0))] as const)
          .filter(([, n]) => n > 0),
      );
      if (rb) r.redis = { cpuUsPerOp: Math.round(((redisAfter.cpu - rb.cpu) * 1e6) / r.ops), callsPerOp: per(redisAfter.calls - rb.calls), commands };
      return r;
    };
    memory.start();
    for (const c of CONCURRENCY) {
      rows.push(await runOneProcess(ONE_PROC_ROW, infra.nats.url, `${prefix}echo1`, new TextDecoder().decode(sample), c));
      rows.push(await measured((m) => runThreaded(RAW_ROW, { ...spec, kind: 'raw' }, c, m)));
      rows.push(await measured((m) => runLuaPairs(infra.redis.url, `${env.REDIS_KEY_PREFIX}lua:`, c, m)));
      rows.push(await measured((m) => runThreaded(PAIR_ROW, { ...spec, kind: 'pair' }, c, m)));
    }
    await memory.end();
    await redisInfo.quit();
    // every debit wrote a CDR: wait until the relay has put them all on JetStream (it must keep up with the load)
    const loadEnd = performance.now();
    const jsm = await nc.jetstreamManager();
    const expected = [warm, ...rows.filter((r) => r.what === PAIR_ROW)].reduce((n, r) => n + r.ops + (r.warmupOps ?? 0), 0);
    let onStream = 0;
    for (let i = 0; i < 600; i++) {
      onStream = Number((await jsm.streams.info(env.CDR_STREAM).catch(() => undefined))?.state.messages ?? 0);
      if (onStream >= expected) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // where the time goes: the enabler's own handling time (receipt of the request → answer), from its histogram
    const metricsText = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    inside = enablerTimes(metricsText);
    relayNote = `CDR relay: ${onStream} CDRs on JetStream for ${expected} debits, ${onStream >= expected ? `caught up ${Math.round(performance.now() - loadEnd)} ms after the load stopped` : 'NOT caught up after 30 s'}`;
    await jsm.streams.delete(env.CDR_STREAM).catch(() => undefined);
  } finally {
    await nc.close();
    echo.kill('SIGTERM');
    enabler.kill('SIGTERM');
    await new Promise((r) => enabler.once('exit', r));
    await dropKeys(infra.redis.url, env.REDIS_KEY_PREFIX);
    await infra.stop();
  }
  console.log(`\nbench:charging — ${DURATION_MS} ms measured per row after ${WARMUP_MS} ms of unmeasured warm-up, enabler and echo responder each in their own process, load from ${THREADS} generator thread(s)\n`);
  console.log('| what | concurrency | ops | per second | p50 ms | p99 ms |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.what} | ${r.concurrency} | ${r.ops} | ${r.perSecond} | ${r.p50ms} | ${r.p99ms} |`);
  // A pair is two CH-2 request/replies (plus two Lua scripts and a CDR): against a request/reply ceiling it is
  // compared both as pairs and as the CH-2 requests it carries.
  console.log('\nAgainst the ceilings measured in this run (one process = the issue\'s method; echo process = the CH-2 client\'s own request path, two generator threads; Lua pairs = the two ledger scripts over ioredis, no NATS):\n');
  console.log('| concurrency | pairs/s | CH-2 req/s | one-process req/s | pairs vs it | CH-2 req vs it | echo-process req/s | pairs vs it | CH-2 req vs it | Lua pairs/s | pairs vs it |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of CONCURRENCY) {
    const at = (w: string) => rows.find((x) => x.what === w && x.concurrency === c)!.perSecond;
    const pairs = at(PAIR_ROW), one = at(ONE_PROC_ROW), raw = at(RAW_ROW), lua = at(LUA_ROW);
    const pc = (a: number, b: number) => `${Math.round((100 * a) / b)} %`;
    console.log(`| ${c} | ${pairs} | ${2 * pairs} | ${one} | ${pc(pairs, one)} | ${pc(2 * pairs, one)} | ${raw} | ${pc(pairs, raw)} | ${pc(2 * pairs, raw)} | ${lua} | ${pc(pairs, lua)} |`);
  }
  const parts = Object.keys(rows.find((r) => r.cpuUsPerOp)?.cpuUsPerOp ?? {});
  if (parts.length) {
    console.log(`\nCPU per operation (µs, user + system, from /proc while the row ran; nats-server and redis-server are shared):\n`);
    console.log(`| what | concurrency | ${parts.join(' | ')} | total |`);
    console.log(`|---|---:|${parts.map(() => '---:').join('|')}|---:|`);
    for (const r of rows.filter((x) => x.cpuUsPerOp)) {
      const v = parts.map((k) => r.cpuUsPerOp?.[k] ?? 0);
      console.log(`| ${r.what} | ${r.concurrency} | ${v.join(' | ')} | ${v.reduce((a, b) => a + b, 0)} |`);
    }
  }
  const sys = rows.filter((x) => x.syscallsPerOp && Object.keys(x.syscallsPerOp).length);
  if (sys.length) {
    console.log('\nSystem calls per operation (reads / writes, from /proc/<pid>/io), and the Redis server\'s own CPU and commands per operation (INFO; on a shared Redis, other clients\' work counts too):\n');
    console.log('| what | concurrency | generator | echo | enabler | redis µs | redis commands |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const r of sys) {
      const c = (k: string) => (r.syscallsPerOp?.[k] ? `${r.syscallsPerOp[k].reads} / ${r.syscallsPerOp[k].writes}` : '–');
      console.log(`| ${r.what} | ${r.concurrency} | ${c('generator')} | ${c('echo')} | ${c('enabler')} | ${r.redis?.cpuUsPerOp ?? '–'} | ${r.redis?.callsPerOp ?? '–'} |`);
    }
    for (const r of sys.filter((x) => x.redis && x.what !== RAW_ROW))
      console.log(`Redis commands per operation, ${r.what} at ${r.concurrency}: ${Object.entries(r.redis!.commands).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  }
  console.log(`\n${relayNote}`);
  console.log(`Inside the enabler (all rows, from its ch2_request_duration_seconds histogram): ${inside}`);
  // the issue's goal figure: pairs through the enabler against the two ledger scripts alone, at concurrency 64
  // (or the run's nearest), throughput and p99
  const at = CONCURRENCY.includes(64) ? 64 : CONCURRENCY[CONCURRENCY.length - 1];
  const pair = rows.find((r) => r.what === PAIR_ROW && r.concurrency === at);
  const lua = rows.find((r) => r.what === LUA_ROW && r.concurrency === at);
  const vsScriptsAlone = pair && lua ? { concurrency: at, pairsPerSecond: pair.perSecond, scriptsAlonePerSecond: lua.perSecond, ratio: +(pair.perSecond / lua.perSecond).toFixed(2), p99ms: pair.p99ms, scriptsAloneP99ms: lua.p99ms, p99Ratio: +(pair.p99ms / lua.p99ms).toFixed(2) } : undefined;
  if (vsScriptsAlone) console.log(`\nAt concurrency ${at}: pairs ${vsScriptsAlone.pairsPerSecond}/s vs the scripts alone ${vsScriptsAlone.scriptsAlonePerSecond}/s = ${vsScriptsAlone.ratio}; p99 ${vsScriptsAlone.p99ms} vs ${vsScriptsAlone.scriptsAloneP99ms} ms = ${vsScriptsAlone.p99Ratio}×`);
  memory.print('bench:charging');
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench-results', 'charging.json'), JSON.stringify({ date: new Date().toISOString(), durationMs: DURATION_MS, rows, relayNote, vsScriptsAlone, memory: memory.rows }, null, 2));
}

if (isMainThread) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  loadThread(workerData as LoadSpec).then((r) => parentPort!.postMessage(r));
}
