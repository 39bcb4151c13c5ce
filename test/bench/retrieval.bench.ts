/**
 * bench:retrieval — complete deferred retrievals per second against the real im-server and Charging Enabler (each
 * in its own process, real Redis and NATS): INVITE (digest) → 200 → ACK → MSRP SEND of one 1 KiB message → 200 →
 * BYE, with reserve + debit + release, from many concurrent clients over TCP. Reports p50/p99 INVITE→200, closed-loop
 * throughput, an open-loop run at a fixed rate, im-server RSS, and bulk delivery (one session draining a
 * 10,000-message backlog, each message debited). Prints a table and writes JSON. Not a test: it never fails on a figure.
 * In the same run, the peers (peers/peers.ts): SIPp INVITE/BYE between two SIPp instances at the same concurrency,
 * and Kamailio msilo delivering a 10,000-message backlog on REGISTER; the ratios ours / theirs are printed and stored.
 */
import { spawn, ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, Socket } from 'node:net';
import { join } from 'node:path';
import { connect as natsConnect } from 'nats';
import { parseSipMessage, SipResponse, SipStreamFramer, parseDigest } from '@imc/sip';
import { MsrpConnection, MsrpSession } from '@imc/msrp';
import { nodeMsrpClock, nodeRandom } from '@imc/msrp-node';
import { createRedis, ensureLocalInfra, freePort } from '@imc/runtime';
import { rssMiB, waitHttp } from '../support/process-probes';
import { deleteKeysWithPrefix } from '../support/redis-cleanup';
import { inspectorArgs, MemoryWatch, profileThroughInspector } from './memory';
import { Msilo, PeerRate, sippInviteBye } from './peers/peers';

const ROOT = join(__dirname, '..', '..', '..');
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5000);
const RATE = Number(process.env.BENCH_RATE ?? 250);
const BULK = Number(process.env.BENCH_BULK ?? 10000);
const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const enc = new TextEncoder();

function pct(sorted: number[], p: number): number {
  return sorted.length ? +sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(2) : 0;
}

/** Where one retrieval's time goes, seen from the client (ms): INVITE→200 (with a 401 round trip on a client's
 * first), ACK + MSRP bind (SEND of the bind → its 200), bind → all messages received, BYE → 200, and the total. */
type Phases = Record<'invite' | 'ackAndBind' | 'bindToMessages' | 'bye' | 'total', number>;

/** One bench client: a SIP TCP connection and an MSRP TCP connection, reused across its retrievals. */
class Client {
  private framer = new SipStreamFramer();
  private waiters = new Map<string, (r: SipResponse) => void>();
  private sip!: Socket;
  private msrp?: MsrpConnection;
  private sessions = new Map<string, MsrpSession>();
  private nonce?: string;
  private nc = 0;
  private seq = 0;
  constructor(private readonly sipPort: number, private readonly msrpPort: number) {}

  async open(): Promise<void> {
    this.sip = await new Promise<Socket>((r) => {
      const s = tcpConnect(this.sipPort, '127.0.0.1', () => r(s));
    });
    this.sip.setNoDelay(true);
    this.sip.on('data', (d: Buffer) => {
      for (const ev of this.framer.push(new Uint8Array(d.buffer, d.byteOffset, d.length))) {
        if (ev.type !== 'message') continue;
        const p = parseSipMessage(ev.bytes);
        if (!p.ok) continue;
        const m = p.message;
        if (m instanceof SipResponse) {
          if (m.status === 100) continue;
          const k = `${m.callId}|${m.cseq.method}`;
          this.waiters.get(k)?.(m);
          this.waiters.delete(k);
        } else if (m.method === 'BYE') {
          // a server BYE (idle): answer it
          this.sip.write(`SIP/2.0 200 OK\r\n${m.headers.filter((h) => ['via', 'from', 'to', 'call-id', 'cseq'].includes(h.key)).map((h) => `${h.name}: ${h.value}`).join('\r\n')}\r\nContent-Length: 0\r\n\r\n`);
        }
      }
    });
  }

  /** The MSRP connection, opened as a real client opens it: once a 200 OK has given it the server's path. */
  private async msrpConnection(): Promise<MsrpConnection> {
    if (this.msrp) return this.msrp;
    const sock = await new Promise<Socket>((r) => {
      const s = tcpConnect(this.msrpPort, '127.0.0.1', () => r(s));
    });
    sock.setNoDelay(true);
    this.msrp = new MsrpConnection((b) => sock.write(b), () => sock.end(), { find: (id) => this.sessions.get(id) });
    sock.on('data', (d: Buffer) => this.msrp!.push(new Uint8Array(d.buffer, d.byteOffset, d.length)));
    return this.msrp;
  }

  private request(callId: string, method: string, text: string): Promise<SipResponse> {
    return new Promise((resolve) => {
      this.waiters.set(`${callId}|${method}`, resolve);
      this.sip.write(text);
    });
  }

  /** One complete retrieval; returns INVITE→200 ms, or throws. */
  async retrieve(user: string, password: string, expect: number, onMessage?: () => void): Promise<{ inviteMs: number; received: number; phases: Phases }> {
    const callId = randomBytes(8).toString('hex');
    const tag = randomBytes(4).toString('hex');
    const sid = randomBytes(8).toString('hex');
    const localPath = `msrp://127.0.0.1:9/${sid};tcp`;
    const sdp = `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\na=path:${localPath}\r\na=accept-types:message/cpim\r\na=setup:active\r\n`;
    const uri = 'sip:deferred@example.com';
    const invite = (cseq: number, auth = '') =>
      `INVITE ${uri} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK${randomBytes(6).toString('hex')};rport\r\nMax-Forwards: 70\r\nFrom: <sip:${user}@example.com>;tag=${tag}\r\nTo: <${uri}>\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} INVITE\r\nContact: <sip:${user}@127.0.0.1:9;transport=tcp>\r\n${auth}Content-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`;
    const authHeader = () => {
      const nc = (++this.nc).toString(16).padStart(8, '0');
      const h1 = md5(`${user}:example.com:${password}`);
      const response = md5(`${h1}:${this.nonce}:${nc}:c0ffee:auth:${md5(`INVITE:${uri}`)}`);
      return `Authorization: Digest username="${user}", realm="example.com", nonce="${this.nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="c0ffee"\r\n`;
    };
    let cseq = ++this.seq;
    const t0 = performance.now();
    let res = await this.request(callId, 'INVITE', invite(cseq, this.nonce ? authHeader() : ''));
    if (res.status === 401) {
      this.sip.write(`ACK ${uri} SIP/2.0\r\n${res.headers.filter((h) => h.key === 'via').map((h) => `Via: ${h.value}`).join('\r\n')}\r\nMax-Forwards: 70\r\nFrom: <sip:${user}@example.com>;tag=${tag}\r\nTo: ${res.get('to')}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} ACK\r\nContent-Length: 0\r\n\r\n`);
      this.nonce = parseDigest(res.getAll('www-authenticate')[0])!.nonce;
      this.nc = 0;
      cseq = ++this.seq;
      res = await this.request(callId, 'INVITE', invite(cseq, authHeader()));
    }
    const inviteMs = performance.now() - t0;
    if (res.status !== 200) throw new Error(`INVITE answered ${res.status} ${res.reason} ${res.get('warning') ?? ''}`);
    const to = res.get('to')!;
    this.sip.write(`ACK sip:deferred@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK${randomBytes(6).toString('hex')};rport\r\nMax-Forwards: 70\r\nFrom: <sip:${user}@example.com>;tag=${tag}\r\nTo: ${to}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} ACK\r\nContent-Length: 0\r\n\r\n`);
    const serverPath = /a=path:(\S+)/.exec(res.bodyText())![1];
    let received = 0;
    let gotAll!: () => void;
    const all = new Promise<void>((r) => (gotAll = r));
    const session = new MsrpSession({ localPath, remotePath: serverPath, clock: nodeMsrpClock, random: nodeRandom });
    session.onMessage(() => {
      received++;
      onMessage?.();
      if (received >= expect) gotAll();
    });
    this.sessions.set(sid, session);
    (await this.msrpConnection()).adopt(session);
    // a refused bind (481/506) closes the connection: fail this retrieval now rather than wait for nothing
    const bindStatus = await session.sendBind();
    if (bindStatus !== 200) throw new Error(`MSRP bind answered ${bindStatus}`);
    const tBound = performance.now();
    // bounded: a session that never delivers fails this retrieval instead of hanging the bench
    let timer: NodeJS.Timeout | undefined;
    const limitMs = 10000 + 10 * expect;
    await Promise.race([all, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${received} of ${expect} messages after ${limitMs} ms`)), limitMs)))]).finally(() => clearTimeout(timer));
    const tAll = performance.now();
    const bye = ++this.seq;
    const r = await this.request(
      callId,
      'BYE',
      `BYE sip:deferred@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK${randomBytes(6).toString('hex')};rport\r\nMax-Forwards: 70\r\nFrom: <sip:${user}@example.com>;tag=${tag}\r\nTo: ${to}\r\nCall-ID: ${callId}\r\nCSeq: ${bye} BYE\r\nContent-Length: 0\r\n\r\n`,
    );
    if (r.status !== 200) throw new Error(`BYE answered ${r.status}`);
    session.close();
    this.sessions.delete(sid);
    const phases = { invite: inviteMs, ackAndBind: tBound - t0 - inviteMs, bindToMessages: tAll - tBound, bye: performance.now() - tAll, total: performance.now() - t0 };
    return { inviteMs, received, phases };
  }

  close(): void {
    this.sip.destroy();
    this.msrp?.end();
  }
}

/** CPU time (user + system) a process has used, ms (/proc, clock ticks of 10 ms); 0 when it cannot be read. */
function cpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
}

function child(entry: string, env: Record<string, string>, inspector: string[]): ChildProcess {
  // BENCH_PROFILE=1 writes a V8 CPU profile of each service's whole life to bench-results/ (open it in Chrome
  // DevTools); BENCH_PROFILE=load profiles the closed loop only (see main)
  const prof = process.env.BENCH_PROFILE && process.env.BENCH_PROFILE !== 'load' ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench-results')}`] : [];
  return spawn(process.execPath, [...prof, ...inspector, join(ROOT, 'dist', entry)], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
}



async function main(): Promise<void> {
  const infra = await ensureLocalInfra({ log: (l) => console.error(`[bench] ${l}`) });
  const id = randomBytes(3).toString('hex');
  const [ceHttp, imHttp, sipTcp, msrpTcp] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const common = { NATS_URL: infra.nats.url, REDIS_URL: infra.redis.url, NATS_SUBJECT_PREFIX: `rb${id}.`, REDIS_KEY_PREFIX: `rb${id}:`, ADMIN_TOKEN: 'bench', LOG_LEVEL: 'error', HTTP_HOST: '127.0.0.1' };
  const [ceInspector, imInspector] = [await inspectorArgs(), await inspectorArgs()];
  const ce = child('apps/charging-enabler/src/main.js', { ...common, CDR_STREAM: `RB${id}`, HTTP_PORT: String(ceHttp), TARIFFS_FILE: join(ROOT, 'deploy', 'tariffs.yaml') }, ceInspector.args);
  const im = child('apps/im-server/src/main.js', {
    ...common,
    HTTP_PORT: String(imHttp),
    SIP_UDP_PORT: '0',
    SIP_WS_PORT: '0',
    MSRP_WS_PORT: '0',
    SIP_TCP_PORT: String(sipTcp),
    MSRP_TCP_PORT: String(msrpTcp),
    SIP_BIND_HOST: '127.0.0.1',
    IM_USER_MAX_MESSAGES: String(BULK + 10),
    IM_USER_MAX_BYTES: String(64 * 1024 * 1024),
    RESERVATION_VALIDITY_SECONDS: '600',
    // all the bench's clients come from 127.0.0.1. The default MSRP_MAX_UNBOUND_PER_SOURCE holds: each answered
    // session lets its client's MSRP connection in (UnboundLimiter.expect). AUTH_FAIL_SOURCE_LIMIT is raised for two
    // other reasons: from one address at most that many digest checks run at once (login-throttle.ts: the others
    // wait, never refused), so the default 10 would measure that pacing rather than the server; and with 10 a few
    // users whose provisioning failed under load (unknown users are wrong guesses) would lock the bench out for 15 min
    AUTH_FAIL_SOURCE_LIMIT: '100000',
  }, imInspector.args);
  const memory = new MemoryWatch().track('im-server', im.pid!, { inspectorPort: imInspector.port }).track('charging-enabler', ce.pid!, { inspectorPort: ceInspector.port });
  const results: Record<string, unknown> = {};
  const nc = await natsConnect({ servers: infra.nats.url });
  try {
    await Promise.all([waitHttp(`http://127.0.0.1:${ceHttp}/health/ready`), waitHttp(`http://127.0.0.1:${imHttp}/health/ready`)]);
    const adminCall = (port: number, method: string, path: string, body: unknown) =>
      fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { authorization: 'Bearer bench', 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const body1k = 'x'.repeat(1024);
    const deposit = (to: string, text: string) =>
      nc.request(`rb${id}.im.deferred.deposit`, enc.encode(JSON.stringify({ to, from: 'sip:alice@example.com', text })), { timeout: 10000 });
    // users: one per planned retrieval, each with one 1 KiB message waiting
    const planned = Number(process.env.BENCH_USERS ?? 12000);
    console.error(`[bench] provisioning ${planned} users with one message each…`);
    const users: string[] = Array.from({ length: planned }, (_, i) => `u${i}x${id}`);
    for (let i = 0; i < users.length; i += 200) {
      await Promise.all(
        users.slice(i, i + 200).map(async (u) => {
          const made = [
            await adminCall(ceHttp, 'POST', '/v1/accounts', { subscriber: `sip:${u}@example.com`, balance: 1000, currency: 'EUR' }),
            await adminCall(imHttp, 'PUT', `/v1/users/${encodeURIComponent(`sip:${u}@example.com`)}`, { password: 'bench-pw' }),
          ];
          for (const r of made) if (!r.ok) throw new Error(`provisioning ${u}: ${r.url} answered ${r.status} ${await r.text()}`);
          await deposit(`sip:${u}@example.com`, body1k);
        }),
      );
    }
    // the last RATE × 4 users are kept for the open-loop run; the closed loop may use the rest
    const openLoopShare = Math.min(RATE * 4, Math.floor(users.length / 2));
    let next = 0;
    let limit = users.length - openLoopShare;
    const take = () => (next < limit ? users[next++] : undefined);

    // closed loop: CONCURRENCY clients back to back for DURATION_MS
    memory.start();
    // BENCH_PROFILE=load: CPU profiles of both services over the closed loop only (through their inspectors)
    const profiling = process.env.BENCH_PROFILE === 'load' ? await Promise.all([imInspector.port, ceInspector.port].map((p) => profileThroughInspector(p))) : [];
    const clients = await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      const c = new Client(sipTcp, msrpTcp);
      await c.open();
      return c;
    }));
    const lat: number[] = [];
    const phases: Phases[] = [];
    let done = 0;
    let failed = 0;
    // the rate counts up to the last completed retrieval: one that fails by its time limit does not stretch it
    let lastDone = 0;
    const end = performance.now() + DURATION_MS;
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (c) => {
        for (let u = take(); u && performance.now() < end; u = take()) {
          try {
            const r = await c.retrieve(u, 'bench-pw', 1);
            lat.push(r.inviteMs);
            phases.push(r.phases);
            done++;
            lastDone = performance.now();
          } catch (e) {
            if (!failed++) console.error(`[bench] first failed retrieval: ${(e as Error).message}`);
          }
        }
      }),
    );
    const secs = ((lastDone || performance.now()) - t0) / 1000;
    for (const [k, stop] of profiling.entries()) {
      mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
      writeFileSync(join(ROOT, 'bench-results', `retrieval-closed-loop-${k ? 'charging-enabler' : 'im-server'}.cpuprofile`), JSON.stringify(await stop()));
    }
    lat.sort((a, b) => a - b);
    if (next >= limit) console.error(`[bench] the closed loop ran out of users: raise BENCH_USERS (${planned})`);
    results.closedLoopPhases = Object.fromEntries(
      (['invite', 'ackAndBind', 'bindToMessages', 'bye', 'total'] as const).map((k) => {
        const v = phases.map((x) => x[k]).sort((a, b) => a - b);
        return [k, { p50ms: pct(v, 50), p99ms: pct(v, 99) }];
      }),
    );
    results.closedLoop = { concurrency: CONCURRENCY, retrievals: done, failed, perSecond: Math.round(done / secs), inviteP50ms: pct(lat, 50), inviteP99ms: pct(lat, 99), imServerRssMiB: rssMiB(im.pid!) };

    // open loop at RATE/s for 4 s: latency at a steady load
    const olat: number[] = [];
    let ofailed = 0;
    next = users.length - openLoopShare;
    limit = users.length;
    const count = openLoopShare;
    const started = performance.now();
    const pool = [...clients];
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const due = started + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const u = take();
      const c = pool.shift();
      if (!u || !c) {
        ofailed++;
        continue;
      }
      jobs.push(
        c.retrieve(u, 'bench-pw', 1).then(
          (r) => {
            olat.push(r.inviteMs);
            pool.push(c);
          },
          () => {
            ofailed++;
            pool.push(c);
          },
        ),
      );
    }
    await Promise.all(jobs);
    olat.sort((a, b) => a - b);
    results.openLoop = { ratePerSecond: RATE, retrievals: olat.length, failedOrUnserved: ofailed, inviteP50ms: pct(olat, 50), inviteP99ms: pct(olat, 99) };
    for (const c of clients) c.close();

    // bulk delivery: one user, BULK messages waiting, one session drains them, each debited
    const bulkUser = `bulk${id}`;
    await adminCall(ceHttp, 'POST', '/v1/accounts', { subscriber: `sip:${bulkUser}@example.com`, balance: 100 * BULK, currency: 'EUR' });
    await adminCall(imHttp, 'PUT', `/v1/users/${encodeURIComponent(`sip:${bulkUser}@example.com`)}`, { password: 'bench-pw' });
    console.error(`[bench] depositing ${BULK} messages for the bulk user…`);
    for (let i = 0; i < BULK; i += 500) await Promise.all(Array.from({ length: Math.min(500, BULK - i) }, (_, k) => deposit(`sip:${bulkUser}@example.com`, `bulk message ${i + k}`)));
    const bc = new Client(sipTcp, msrpTcp);
    await bc.open();
    let firstAt = 0;
    // BENCH_PROFILE=bulk: CPU profiles of both services over the bulk session only
    const bulkProfiling = process.env.BENCH_PROFILE === 'bulk' ? await Promise.all([imInspector.port, ceInspector.port].map((p) => profileThroughInspector(p))) : [];
    const cpuStart = { im: cpuMs(im.pid!), ce: cpuMs(ce.pid!) };
    const b0 = performance.now();
    const r = await bc.retrieve(bulkUser, 'bench-pw', BULK, () => {
      if (!firstAt) firstAt = performance.now();
    });
    const bsecs = (performance.now() - b0) / 1000;
    for (const [k, stop] of bulkProfiling.entries()) {
      mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
      writeFileSync(join(ROOT, 'bench-results', `retrieval-bulk-${k ? 'charging-enabler' : 'im-server'}.cpuprofile`), JSON.stringify(await stop()));
    }
    bc.close();
    const balance = async () =>
      ((await (await fetch(`http://127.0.0.1:${ceHttp}/v1/accounts/${encodeURIComponent(`sip:${bulkUser}@example.com`)}`, { headers: { authorization: 'Bearer bench' } })).json()) as { balance: number }).balance;
    const charged = 100 * BULK - (await balance());
    // the last debits may still be on their way when the client has every message: when the balance last changed
    // (polled every 100 ms until it holds for one poll, at most 10 s; the price per message depends on the time of
    // day, so the total is not known here), and the CPU each service spent on the session per message
    let settledSecs = bsecs;
    for (let last = charged, left = 100; left > 0; left--) {
      await new Promise((res) => setTimeout(res, 100));
      const now = 100 * BULK - (await balance());
      if (now === last) break;
      last = now;
      settledSecs = (performance.now() - b0) / 1000;
    }
    const cpuUs = (k: 'im' | 'ce') => Math.round(((cpuEnd[k] - cpuStart[k]) * 1000) / Math.max(1, r.received));
    const cpuEnd = { im: cpuMs(im.pid!), ce: cpuMs(ce.pid!) };
    results.bulkDelivery = { messages: r.received, seconds: +bsecs.toFixed(2), perSecond: Math.round(r.received / bsecs), inviteMs: +r.inviteMs.toFixed(1), charged,
      allChargedAfterSeconds: +settledSecs.toFixed(2), imServerCpuUsPerMessage: cpuUs('im'), enablerCpuUsPerMessage: cpuUs('ce') };
    results.imServerRssMiBAfter = rssMiB(im.pid!);
    await memory.end();
  } finally {
    await nc.close();
    for (const p of [im, ce]) p.kill('SIGTERM');
    await Promise.all([im, ce].map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)))));
    // the shared Redis keeps nothing of this run (a few hundred thousand keys otherwise, run after run)
    const redis = createRedis(infra.redis.url);
    await deleteKeysWithPrefix(redis, common.REDIS_KEY_PREFIX)
      .then((n) => console.error(`[bench] deleted ${n} keys under ${common.REDIS_KEY_PREFIX}`))
      .catch((e: Error) => console.error(`[bench] could not delete the keys under ${common.REDIS_KEY_PREFIX}: ${e.message}`))
      .finally(() => redis.disconnect());
    await infra.stop();
  }
  // the peers, on the same machine right after ours (our services stopped)
  const sipp = await sippInviteBye(CONCURRENCY, Number(process.env.BENCH_SIPP_CALLS ?? 20000));
  let msiloBulk: PeerRate | undefined;
  const msilo = await Msilo.start({ deliverTo: await freePort() });
  if (msilo) {
    try {
      msiloBulk = await msilo.bulkDelivery(BULK);
    } finally {
      await msilo.stop();
    }
  }
  const cl = results.closedLoop as Record<string, number>;
  const ol = results.openLoop as Record<string, number>;
  const bk = results.bulkDelivery as Record<string, number>;
  console.log('\nbench:retrieval — im-server and enabler in their own processes, real Redis and NATS, SIP and MSRP over TCP\n');
  console.log('| figure | value |');
  console.log('|---|---:|');
  console.log(`| complete retrievals/s (closed loop, ${cl.concurrency} clients, 1 KiB message, reserve+debit+release) | ${cl.perSecond} |`);
  console.log(`| INVITE→200 p50 / p99 at that load (ms) | ${cl.inviteP50ms} / ${cl.inviteP99ms} |`);
  console.log(`| INVITE→200 p50 / p99 at ${ol.ratePerSecond}/s open loop (ms) | ${ol.inviteP50ms} / ${ol.inviteP99ms} |`);
  const ph = results.closedLoopPhases as Record<string, { p50ms: number; p99ms: number }>;
  console.log(`| closed loop, client-side p50 ms: INVITE→200 / ACK+MSRP bind / bind→message / BYE→200 / total | ${['invite', 'ackAndBind', 'bindToMessages', 'bye', 'total'].map((k) => ph[k].p50ms).join(' / ')} |`);
  console.log(`| failed retrievals (closed / open loop) | ${cl.failed} / ${ol.failedOrUnserved} |`);
  console.log(`| bulk delivery: ${bk.messages} messages in one session, each debited (messages/s) | ${bk.perSecond} |`);
  console.log(`| bulk delivery charged when the client had every message (cents; expected ${BULK} × 6) | ${bk.charged} |`);
  console.log(`| bulk delivery: the balance last changed after (s; the client had every message after ${bk.seconds}) | ${bk.allChargedAfterSeconds} |`);
  console.log(`| bulk delivery CPU per message, im-server / enabler (µs, whole session incl. INVITE) | ${bk.imServerCpuUsPerMessage} / ${bk.enablerCpuUsPerMessage} |`);
  console.log(`| im-server RSS after closed loop / after bulk (MiB) | ${cl.imServerRssMiB} / ${results.imServerRssMiBAfter} |`);
  const ratio = (a: number, b?: number) => (b ? +(a / b).toFixed(2) : undefined);
  const peers = { sippInviteBye: sipp, msiloBulkDelivery: msiloBulk, retrievalsVsSipp: ratio(cl.perSecond, sipp?.perSecond), bulkDeliveryVsMsilo: ratio(bk.perSecond, msiloBulk?.perSecond) };
  console.log('\nAgainst the peers in the same run:\n');
  console.log('| figure | ours (/s) | peer | peer (/s) | ours / peer |');
  console.log('|---|---:|---|---:|---:|');
  console.log(`| complete retrievals, ${cl.concurrency} clients | ${cl.perSecond} | ${sipp?.what ?? 'SIPp (not run)'}, ${CONCURRENCY} at once | ${sipp?.perSecond ?? '—'} | ${peers.retrievalsVsSipp ?? '—'} |`);
  console.log(`| bulk delivery of ${bk.messages}, each charged | ${bk.perSecond} | ${msiloBulk?.what ?? 'msilo (not run)'} | ${msiloBulk?.perSecond ?? '—'} | ${peers.bulkDeliveryVsMsilo ?? '—'} |`);
  if (msiloBulk?.note) console.log(`\nmsilo: all answered 200 by the UA in ${msiloBulk.seconds} s (the figure above); ${msiloBulk.note}: delivered and removed ${msiloBulk.removedPerSecond}/s (ours / that: ${msiloBulk.removedPerSecond ? (bk.perSecond / msiloBulk.removedPerSecond).toFixed(2) : '—'})`);
  memory.print('bench:retrieval');
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench-results', 'retrieval.json'), JSON.stringify({ date: new Date().toISOString(), ...results, peers, memory: memory.rows }, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
