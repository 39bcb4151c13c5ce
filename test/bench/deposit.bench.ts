/**
 * bench:deposit — deposits per second the way an operator compares with Kamailio msilo: SIPp sends SIP MESSAGEs to
 * an offline user, each answered 202 once stored (a private Redis with AOF), over UDP and over TCP, with
 * `appendfsync always` (the shipped setting: a 202 means fsynced, deploy/redis/redis.conf) and with `everysec`
 * (Redis' default, up to a second of acknowledged deposits lost on a power cut), side by side: the same Redis is
 * switched with CONFIG SET between runs. Deposits are unauthenticated here (SIP_DEPOSIT_AUTH=none, as msilo behind
 * a proxy); the figure with digest needs one 401 round trip more per MESSAGE.
 * In the same run, the peer: Kamailio msilo on SQLite (WAL, synchronous FULL: each deposit fsynced before its 202)
 * takes the same SIPp load, UDP then TCP (peers/peers.ts); the ratios ours (`always`) / msilo are printed and stored.
 */
import { spawn, ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLocalInfra, freePort, startRedis } from '@imc/runtime';
import Redis from 'ioredis';
import { runSipp } from '../sip/sipp';
import { waitHttp } from '../support/process-probes';
import { inspectorArgs, MemoryWatch } from './memory';
import { Msilo, PeerRate } from './peers/peers';

const ROOT = join(__dirname, '..', '..', '..');
const CALLS = Number(process.env.BENCH_CALLS ?? 20000);
/**
 * SIPp's offered rate: far above what either side stores, so the run is a closed loop held by SIPp's limit of 2,000
 * MESSAGEs in flight (`-l`), for ours and for msilo alike. (At 6,000/s, the default before, ours was held at the
 * offered rate on a quiet machine: ~5,930/s stored for 6,000/s offered.) BENCH_RATE sets an open-loop rate instead.
 */
const RATE = Number(process.env.BENCH_RATE ?? 100000);
/** The shipped setting first, then Redis' default, on the same Redis and im-server. */
const FSYNC = ['always', 'everysec'] as const;


async function main(): Promise<void> {
  const infra = await ensureLocalInfra({ log: (l) => console.error(`[bench] ${l}`) });
  const redis = await startRedis({ aof: true });
  const [http, udp, tcp] = await Promise.all([freePort(), freePort(), freePort()]);
  const inspector = await inspectorArgs();
  const im: ChildProcess = spawn(process.execPath, [...inspector.args, join(ROOT, 'dist/apps/im-server/src/main.js')], {
    env: {
      ...process.env,
      NATS_URL: infra.nats.url,
      REDIS_URL: redis.url,
      ADMIN_TOKEN: 'bench',
      LOG_LEVEL: 'error',
      HTTP_PORT: String(http),
      HTTP_HOST: '127.0.0.1',
      SIP_BIND_HOST: '127.0.0.1',
      SIP_UDP_PORT: String(udp),
      SIP_TCP_PORT: String(tcp),
      SIP_WS_PORT: '0',
      MSRP_TCP_PORT: '0',
      MSRP_WS_PORT: '0',
      SIP_DEPOSIT_AUTH: 'none',
      IM_USER_MAX_MESSAGES: String(10 * CALLS),
      IM_USER_MAX_BYTES: String(1024 * 1024 * 1024),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const memory = new MemoryWatch().track('im-server', im.pid!, { inspectorPort: inspector.port }).track('redis-server (private, AOF)', redis.pid!);
  const rows: { appendfsync: string; transport: string; calls: number; stored: number; seconds: number; perSecond: number }[] = [];
  const r = new Redis(redis.url);
  try {
    await waitHttp(`http://127.0.0.1:${http}/health/ready`);
    memory.start();
    // transport outer, setting inner: the two figures of a transport are measured back to back
    for (const [name, t, port] of [['UDP', 'u1', udp], ['TCP', 't1', tcp]] as const) {
      for (const fsync of FSYNC) {
        await r.config('SET', 'appendfsync', fsync);
        const [, now] = (await r.config('GET', 'appendfsync')) as [string, string];
        if (now !== fsync) throw new Error(`redis did not take appendfsync ${fsync} (has ${now})`);
        const user = `offline${name.toLowerCase()}${fsync}`;
        const t0 = performance.now();
        const res = await runSipp({ scenario: 'message-deposit.xml', target: `127.0.0.1:${port}`, transport: t, service: user, fields: [['alice']], calls: CALLS, rate: RATE, timeoutS: 120, extra: ['-l', '2000'] });
        const secs = (performance.now() - t0) / 1000;
        const stored = Number(await r.hget(`imc:dm:use:{sip:${user}@example.com}`, 'count'));
        rows.push({ appendfsync: fsync, transport: name, calls: CALLS, stored, seconds: +secs.toFixed(2), perSecond: Math.round(stored / secs) });
        if (res.code !== 0) console.error(`[bench] sipp ${name} (${fsync}) exit ${res.code}: ${res.errors.slice(0, 500)} ${res.output.slice(-800)}`);
      }
    }
    await memory.end();
  } finally {
    r.disconnect();
    im.kill('SIGTERM');
    await new Promise((res) => im.once('exit', res));
    await redis.stop();
    await infra.stop();
  }
  // the peer, on the same machine right after ours, with the same SIPp load
  const peer: PeerRate[] = [];
  const msilo = await Msilo.start();
  if (msilo) {
    const mm = new MemoryWatch().track('kamailio msilo (PSS of all its processes)', msilo.pid, { tree: true });
    mm.start();
    try {
      for (const t of ['UDP', 'TCP'] as const) peer.push(await msilo.deposits(t, `offline${t.toLowerCase()}`, CALLS, RATE));
    } finally {
      await mm.end();
      memory.rows.push(...mm.rows);
      await msilo.stop();
    }
  }
  console.log(`\nbench:deposit — SIPp MESSAGE → 202 stored (Redis AOF), ${CALLS} messages offered at ${RATE}/s per run, at most 2,000 in flight\n`);
  console.log('| appendfsync | transport | offered | stored | seconds | deposits/s |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const x of rows) console.log(`| ${x.appendfsync} | ${x.transport} | ${x.calls} | ${x.stored} | ${x.seconds} | ${x.perSecond} |`);
  console.log('\n| transport | always (deposits/s) | everysec (deposits/s) | always / everysec |');
  console.log('|---|---:|---:|---:|');
  for (const name of ['UDP', 'TCP']) {
    const a = rows.find((x) => x.transport === name && x.appendfsync === 'always');
    const e = rows.find((x) => x.transport === name && x.appendfsync === 'everysec');
    if (a && e) console.log(`| ${name} | ${a.perSecond} | ${e.perSecond} | ${(a.perSecond / e.perSecond).toFixed(2)} |`);
  }
  const vsMsilo: Record<string, number> = {};
  if (peer.length) {
    console.log('\nAgainst Kamailio msilo in the same run (SQLite WAL, synchronous FULL; same SIPp scenario, offered load and in-flight limit):\n');
    console.log('| transport | ours, always (deposits/s) | msilo (deposits/s) | msilo stored | ours / msilo |');
    console.log('|---|---:|---:|---:|---:|');
    for (const name of ['UDP', 'TCP']) {
      const a = rows.find((x) => x.transport === name && x.appendfsync === 'always');
      const m = peer.find((x) => x.what.endsWith(name));
      if (!a || !m) continue;
      vsMsilo[name] = +(a.perSecond / m.perSecond).toFixed(2);
      console.log(`| ${name} | ${a.perSecond} | ${m.perSecond} | ${m.count} of ${CALLS} | ${vsMsilo[name]} |`);
    }
  }
  memory.print('bench:deposit');
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench-results', 'deposit.json'), JSON.stringify({ date: new Date().toISOString(), calls: CALLS, rate: RATE, rows, msilo: peer, vsMsilo, memory: memory.rows }, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
