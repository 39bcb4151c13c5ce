/**
 * bench:charging — reserve+debit pairs per second and p50/p99 latency through the real Charging Enabler (its own
 * process, NATS + Redis), at concurrency 1, 64 and 256, with the raw NATS request/reply rate measured in the same
 * run as the ceiling (an echo responder in its own process, same envelope size). Prints a table, writes JSON.
 * Not a test: it never fails on a figure.
 */
import { spawn, ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { connect, NatsConnection } from 'nats';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Ch2Client, NatsRequester } from '@imc/ch2';
import { ensureLocalInfra, freePort } from '@imc/runtime';

const ROOT = join(__dirname, '..', '..', '..');
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 4000);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,64,256').split(',').map(Number);

interface Row {
  what: string;
  concurrency: number;
  ops: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function run(what: string, concurrency: number, op: () => Promise<unknown>): Promise<Row> {
  const lat: number[] = [];
  const end = performance.now() + DURATION_MS;
  let ops = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await op();
        lat.push(performance.now() - t);
        ops++;
      }
    }),
  );
  const secs = (performance.now() - started) / 1000;
  lat.sort((a, b) => a - b);
  return { what, concurrency, ops, perSecond: Math.round(ops / secs), p50ms: +pct(lat, 50).toFixed(2), p99ms: +pct(lat, 99).toFixed(2) };
}

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
}

/** Load-generator thread: its own NATS connection, `concurrency` loops for `durationMs`; posts latencies (ms). */
async function loadThread(spec: LoadSpec): Promise<{ lat: number[]; secs: number }> {
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
          const r = await ch2.reserve({ requestId: randomUUID(), subscriber: spec.sub, service: 'im.deferred-retrieval', timestamp: now, items: [{ id: 'm1', octets: 1024 }] });
          if (r.result !== 'SUCCESS') throw new Error(`reserve: ${r.result}`);
          const d = await ch2.debit({ requestId: randomUUID(), subscriber: spec.sub, service: 'im.deferred-retrieval', timestamp: now, reservationId: r.reservationId!, itemId: 'm1', outcome: 'delivered', octets: 1024 });
          if (d.result !== 'SUCCESS') throw new Error(`debit: ${d.result}`);
        };
  const lat: number[] = [];
  const starts: number[] = [];
  const gcs: number[] = [];
  const obs = TRACE ? new PerformanceObserver((l) => l.getEntries().forEach((e) => gcs.push(e.duration))) : undefined;
  obs?.observe({ entryTypes: ['gc'] });
  const eld = monitorEventLoopDelay({ resolution: 1 });
  if (TRACE) eld.enable();
  const t0 = performance.now();
  const end = t0 + spec.durationMs;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await op();
        lat.push(performance.now() - t);
        if (TRACE) starts.push(t);
      }
    }),
  );
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
  return { lat, secs };
}

/** One row measured by THREADS load-generator threads sharing `concurrency` (so the generator is not the limit). */
async function runThreaded(what: string, spec: Omit<LoadSpec, 'concurrency'>, concurrency: number): Promise<Row> {
  const threads = Math.max(1, Math.min(THREADS, concurrency));
  const parts = await Promise.all(
    Array.from({ length: threads }, (_, i) => {
      const share = Math.floor(concurrency / threads) + (i < concurrency % threads ? 1 : 0);
      return new Promise<{ lat: number[]; secs: number }>((resolve, reject) => {
        const w = new Worker(__filename, { workerData: { ...spec, concurrency: share } });
        w.once('message', resolve);
        w.once('error', reject);
      });
    }),
  );
  const lat = parts.flatMap((p) => p.lat).sort((a, b) => a - b);
  const secs = Math.max(...parts.map((p) => p.secs));
  return { what, concurrency, ops: lat.length, perSecond: Math.round(lat.length / secs), p50ms: +pct(lat, 50).toFixed(2), p99ms: +pct(lat, 99).toFixed(2) };
}

function child(args: string[], env: Record<string, string>): ChildProcess {
  // BENCH_PROFILE=1 writes a V8 CPU profile of the enabler to bench-results/ (open it in Chrome DevTools)
  if (process.env.BENCH_PROFILE && args[0]?.endsWith('main.js')) args = ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench-results')}`, ...args];
  // BENCH_ENABLER_NODE_FLAGS (space-separated) tries V8/Node flags on the enabler only
  if (process.env.BENCH_ENABLER_NODE_FLAGS && args[0]?.endsWith('main.js')) args = [...process.env.BENCH_ENABLER_NODE_FLAGS.split(' '), ...args];
  return spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
}

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never became ready`);
}

const ECHO = `
const { connect } = require('nats');
(async () => {
  const nc = await connect({ servers: process.env.NATS_URL });
  const enc = new TextEncoder();
  nc.subscribe(process.env.SUBJECT, { queue: 'echo', callback: (_e, m) => {
    const req = JSON.parse(new TextDecoder().decode(m.data));
    m.respond(enc.encode(JSON.stringify({ err: null, response: req.data, isDisposed: true, id: req.id })));
  } });
  process.on('SIGTERM', () => nc.close().then(() => process.exit(0)));
})();`;

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
  const enabler = child([join(ROOT, 'dist', 'apps', 'charging-enabler', 'src', 'main.js')], env);
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
    for (const c of CONCURRENCY) {
      rows.push(await runThreaded('raw NATS request/reply', { ...spec, kind: 'raw' }, c));
      rows.push(await runThreaded('reserve+debit pair', { ...spec, kind: 'pair' }, c));
    }
    // every debit wrote a CDR: wait until the relay has put them all on JetStream (it must keep up with the load)
    const loadEnd = performance.now();
    const jsm = await nc.jetstreamManager();
    const expected = warm.ops + rows.filter((r) => r.what.startsWith('reserve')).reduce((n, r) => n + r.ops, 0);
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
  console.log(`\nbench:charging — ${DURATION_MS} ms per row, enabler and echo responder each in their own process, load from ${THREADS} generator thread(s)\n`);
  console.log('| what | concurrency | ops | per second | p50 ms | p99 ms | pairs/s vs raw req/s |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const raw = rows.find((x) => x.what.startsWith('raw') && x.concurrency === r.concurrency)!;
    const ratio = r.what.startsWith('reserve') ? `${((100 * r.perSecond) / raw.perSecond).toFixed(0)} %` : '';
    console.log(`| ${r.what} | ${r.concurrency} | ${r.ops} | ${r.perSecond} | ${r.p50ms} | ${r.p99ms} | ${ratio} |`);
  }
  console.log(`\n${relayNote}`);
  console.log(`Inside the enabler (all rows, from its ch2_request_duration_seconds histogram): ${inside}`);
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench-results', 'charging.json'), JSON.stringify({ date: new Date().toISOString(), durationMs: DURATION_MS, rows, relayNote }, null, 2));
}

if (isMainThread) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  loadThread(workerData as LoadSpec).then((r) => parentPort!.postMessage(r));
}
