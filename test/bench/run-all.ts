/**
 * npm run bench — every benchmark, and in the same run the ceilings and peers each compares with (the ledger scripts
 * alone, raw NATS request/reply, SIPp INVITE/BYE between two SIPp instances, Kamailio msilo), one after the other,
 * each in its own process. Then prints the issue's goal table, ours / theirs, and writes bench-results/summary.json
 * (ratios, the figures behind them, memory, the machine, the commit) so that one run can be compared with another
 * (npm run bench:compare a.json b.json). Not a test: it never fails on a figure; it exits 1 only if a bench crashed.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { MemoryRow } from './memory';
import type { PeerRate } from './peers/peers';

const ROOT = join(__dirname, '..', '..', '..');
const OUT = join(ROOT, 'bench-results');
const BENCHES = (process.env.BENCH_ONLY ?? 'parsers,charging,deposit,retrieval').split(',');

/** The goals of issue 16 (ours / theirs, measured in the same run). */
export const GOALS = {
  chargingVsScriptsAlone: { atLeast: 0.75, what: 'CH-2 reserve+debit pairs/s, concurrency 64', peer: 'the two ledger scripts alone over ioredis', also: 'p99 ≤ 2× the scripts\' own' },
  bulkDeliveryVsMsilo: { atLeast: 2.5, what: 'bulk delivery of 10,000 messages, each charged', peer: 'Kamailio msilo (SQLite WAL) delivering stored messages on REGISTER' },
  durableDepositsVsMsilo: { atLeast: 2, what: 'deposits/s, durable (fsynced before the 202), the lower of UDP and TCP', peer: 'msilo, same SIPp load, UDP / TCP (SQLite synchronous FULL)' },
  retrievalsVsSipp: { atLeast: 0.25, what: 'complete retrievals/s (digest, MSRP, reserve+debit+release, 1 KiB)', peer: 'SIPp INVITE/BYE between two SIPp instances' },
} as const;

function run(name: string): Promise<{ ok: boolean; seconds: number }> {
  const t0 = performance.now();
  // --expose-gc: each bench's own process reports its RSS after a full GC too
  const p = spawn(process.execPath, ['--expose-gc', join(__dirname, `${name}.bench.js`)], { stdio: 'inherit', env: process.env });
  return new Promise((resolve) => p.once('exit', (code) => resolve({ ok: code === 0, seconds: Math.round((performance.now() - t0) / 1000) })));
}

function read<T>(name: string): T | undefined {
  const f = join(OUT, `${name}.json`);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as T) : undefined;
}

function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

interface Charging { vsScriptsAlone?: { concurrency: number; pairsPerSecond: number; scriptsAlonePerSecond: number; ratio: number; p99ms: number; scriptsAloneP99ms: number; p99Ratio: number }; rows: { what: string; concurrency: number; perSecond: number; p99ms: number }[]; memory?: MemoryRow[] }
interface Deposit { rows: { appendfsync: string; transport: string; perSecond: number; stored: number; calls: number }[]; msilo: PeerRate[]; vsMsilo: Record<string, number>; memory?: MemoryRow[] }
interface Retrieval {
  closedLoop: { concurrency: number; perSecond: number; inviteP50ms: number; inviteP99ms: number; failed: number };
  openLoop: { inviteP99ms: number };
  bulkDelivery: { messages: number; perSecond: number; charged: number };
  peers: { sippInviteBye?: PeerRate; msiloBulkDelivery?: PeerRate; retrievalsVsSipp?: number; bulkDeliveryVsMsilo?: number };
  memory?: MemoryRow[];
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  for (const b of BENCHES) rmSync(join(OUT, `${b}.json`), { force: true }); // no stale figure in this run's summary
  const started = new Date().toISOString();
  const loadBefore = loadavg();
  const benches: Record<string, { ok: boolean; seconds: number }> = {};
  for (const b of BENCHES) {
    console.log(`\n==== bench:${b} ====`);
    benches[b] = await run(b);
    if (!benches[b].ok) console.error(`[bench] bench:${b} failed`);
  }
  const charging = read<Charging>('charging');
  const deposit = read<Deposit>('deposit');
  const retrieval = read<Retrieval>('retrieval');
  const depositRatios = Object.values(deposit?.vsMsilo ?? {});
  const ratios = {
    chargingVsScriptsAlone: charging?.vsScriptsAlone?.ratio ?? null,
    bulkDeliveryVsMsilo: retrieval?.peers.bulkDeliveryVsMsilo ?? null,
    durableDepositsVsMsilo: depositRatios.length ? Math.min(...depositRatios) : null,
    retrievalsVsSipp: retrieval?.peers.retrievalsVsSipp ?? null,
  };
  const always = (t: string) => deposit?.rows.find((r) => r.transport === t && r.appendfsync === 'always');
  const msilo = (t: string) => deposit?.msilo.find((r) => r.what.endsWith(t));
  const figures = {
    charging: charging?.vsScriptsAlone ?? null,
    bulkDelivery: retrieval ? { messages: retrieval.bulkDelivery.messages, ours: retrieval.bulkDelivery.perSecond, oursCharged: retrieval.bulkDelivery.charged, theirs: retrieval.peers.msiloBulkDelivery ?? null } : null,
    durableDeposits: deposit
      ? Object.fromEntries(['UDP', 'TCP'].map((t) => [t, { ours: always(t)?.perSecond ?? null, oursStored: always(t)?.stored ?? null, theirs: msilo(t)?.perSecond ?? null, theirsStored: msilo(t)?.count ?? null, ratio: deposit.vsMsilo[t] ?? null }]))
      : null,
    retrievals: retrieval ? { ours: retrieval.closedLoop.perSecond, concurrency: retrieval.closedLoop.concurrency, inviteP50ms: retrieval.closedLoop.inviteP50ms, inviteP99ms: retrieval.closedLoop.inviteP99ms, failed: retrieval.closedLoop.failed, openLoopInviteP99ms: retrieval.openLoop.inviteP99ms, theirs: retrieval.peers.sippInviteBye ?? null } : null,
  };
  const memory = Object.entries({ parsers: read<{ memory?: MemoryRow[] }>('parsers')?.memory, charging: charging?.memory, deposit: deposit?.memory, retrieval: retrieval?.memory }).flatMap(([bench, rows]) => (rows ?? []).map((r) => ({ bench, ...r })));
  const summary = {
    date: started,
    finished: new Date().toISOString(),
    commit: commit(),
    machine: { cpuModel: cpus()[0]?.model ?? 'unknown', cores: cpus().length, totalMemMiB: Math.round(totalmem() / 1048576), node: process.version, platform: `${process.platform} ${process.arch}`, loadAverageAtStart: loadBefore.map((x) => +x.toFixed(2)), loadAverageAtEnd: loadavg().map((x) => +x.toFixed(2)) },
    ratios,
    goals: GOALS,
    figures,
    memory,
    benches,
  };
  writeFileSync(join(OUT, 'summary.json'), JSON.stringify(summary, null, 2));
  const fmt = (x: number | null | undefined) => (x === null || x === undefined ? '—' : String(x));
  const met = (k: keyof typeof GOALS) => (ratios[k] === null ? 'not measured' : ratios[k]! >= GOALS[k].atLeast ? 'met' : 'not met');
  const c = figures.charging;
  const d = figures.durableDeposits;
  console.log(`\n==== npm run bench — ${summary.commit}, ${summary.machine.cpuModel} × ${summary.machine.cores}, Node ${process.version}, load average ${loadBefore[0].toFixed(1)} → ${loadavg()[0].toFixed(1)} ====\n`);
  console.log('| figure | ours | peer or ceiling, same run | theirs | ours / theirs | goal | |');
  console.log('|---|---:|---|---:|---:|---:|---|');
  console.log(`| ${GOALS.chargingVsScriptsAlone.what} | ${fmt(c?.pairsPerSecond)} (p99 ${fmt(c?.p99ms)} ms) | ${GOALS.chargingVsScriptsAlone.peer} | ${fmt(c?.scriptsAlonePerSecond)} (p99 ${fmt(c?.scriptsAloneP99ms)} ms) | ${fmt(ratios.chargingVsScriptsAlone)} (p99 ${fmt(c?.p99Ratio)}×) | ≥ 0.75, p99 ≤ 2× | ${met('chargingVsScriptsAlone')}${c && c.p99Ratio > 2 ? ', p99 not met' : ''} |`);
  console.log(`| bulk delivery of ${fmt(figures.bulkDelivery?.messages)} messages, each charged (/s) | ${fmt(figures.bulkDelivery?.ours)} | msilo on REGISTER | ${fmt(figures.bulkDelivery?.theirs?.perSecond)} | ${fmt(ratios.bulkDeliveryVsMsilo)} | ≥ 2.5 | ${met('bulkDeliveryVsMsilo')} |`);
  for (const t of ['UDP', 'TCP']) console.log(`| durable deposits/s, ${t} | ${fmt(d?.[t]?.ours)} | msilo, SQLite synchronous FULL | ${fmt(d?.[t]?.theirs)} | ${fmt(d?.[t]?.ratio)} | ≥ 2 | ${t === 'TCP' ? `${met('durableDepositsVsMsilo')} (lower of the two)` : ''} |`);
  console.log(`| complete retrievals/s, ${fmt(figures.retrievals?.concurrency)} clients (INVITE→200 p99 ${fmt(figures.retrievals?.inviteP99ms)} ms) | ${fmt(figures.retrievals?.ours)} | SIPp uac → uas INVITE/BYE | ${fmt(figures.retrievals?.theirs?.perSecond)} | ${fmt(ratios.retrievalsVsSipp)} | ≥ 0.25 | ${met('retrievalsVsSipp')} |`);
  const flagged = memory.filter((m) => m.flagged);
  console.log(`\nMemory: ${memory.length} processes measured; ${flagged.length ? `over 20 % growth: ${flagged.map((m) => `${m.bench}/${m.process} ×${m.ratio}`).join(', ')}` : 'none grew over 20 %'} (tables above; all in summary.json)`);
  const bt = figures.bulkDelivery?.theirs;
  if (bt?.note) console.log(`msilo bulk delivery: all ${bt.count} answered 200 by the UA in ${bt.seconds} s (${bt.perSecond}/s, the figure above); ${bt.note}: delivered and removed ${bt.removedPerSecond ?? '—'}/s (ours / that: ${bt.removedPerSecond && figures.bulkDelivery ? (figures.bulkDelivery.ours / bt.removedPerSecond).toFixed(2) : '—'})`);
  console.log(`\nWritten: ${join('bench-results', 'summary.json')} (compare two runs: npm run bench:compare a.json b.json)`);
  if (Object.values(benches).some((b) => !b.ok)) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
