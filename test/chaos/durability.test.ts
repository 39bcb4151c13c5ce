/**
 * "Accepted" means on disk (ARCHITECTURE.md, issue 11 item 4). A private redis-server started with the shipped
 * deploy/redis/redis.conf (AOF, appendfsync always, a data dir) and a private nats-server -js (a store dir) carry a
 * deposit + charging load through a Charging Enabler and an im-server; redis-server is SIGKILLed mid-load and
 * restarted on the same port and dir, then nats-server twice: once as it is, once with the CDR stream's last block
 * cut short (what a power cut does to JetStream data it had not synced yet). Afterwards: every deposit answered 201/202 is
 * stored, every money operation answered SUCCESS is in the ledger, every CDR is on JetStream exactly once, and
 * the money is conserved. A process kill keeps what the kernel buffered, a power cut does not: so the test also
 * reads the durability settings of every Redis and NATS the product starts or ships a config for.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { connect, NatsConnection } from 'nats';
import type { Ch2Client } from '@imc/ch2';
import { findBinary, freePort, LocalService, natsInfo, redisAnswers, startNats, startRedis } from '@imc/runtime';
import type { RunningEnabler } from '../../apps/charging-enabler/src/bootstrap';
import { startImServer, RunningImServer } from '../../apps/im-server/src/bootstrap';
import { JetStreamCdrSource } from '../../apps/charging-enabler/src/reports/jetstream-cdr-source';
import { entryToCdr } from '../../apps/charging-enabler/src/cdr/cdr-store';
import { admin, ch2ClientFor, common, Namespace, startEnabler, testNamespace, waitFor } from '../support/enabler-harness';
import { imEnv } from '../support/stack-harness';

jest.setTimeout(150_000);

const ROOT = join(__dirname, '..', '..');
const REDIS_CONF = join(ROOT, 'deploy', 'redis', 'redis.conf');
const NATS_CONF = join(ROOT, 'deploy', 'nats', 'nats.conf');
const ACCOUNTS = 6;
const INITIAL = 1_000_000;
/** Acknowledged operations between two events of the load (kill, restart, end). */
const STEP = 60;
const WORKERS = 6;

/** redis-server with the shipped config, on a fixed port and data dir, so a restart finds what the kill left. */
class ShippedRedis {
  private proc?: ChildProcess;
  readonly url: string;
  constructor(readonly port: number, readonly dir: string) {
    this.url = `redis://127.0.0.1:${port}`;
    mkdirSync(dir, { recursive: true });
  }
  async start(): Promise<void> {
    // the shipped file as it is, but for its container path `dir /data` (Redis changes to it while reading the file)
    const conf = join(this.dir, '..', 'redis.conf');
    writeFileSync(conf, readFileSync(REDIS_CONF, 'utf8').replace(/^dir .*$/m, `dir ${this.dir}`));
    const proc = spawn(findBinary('redis-server')!, [conf, '--port', String(this.port), '--bind', '127.0.0.1'], { stdio: 'ignore' });
    this.proc = proc;
    let exit: number | null = null;
    proc.once('exit', (code) => (exit = code ?? -1));
    // ready once it answers PONG (while it replays its AOF it answers -LOADING)
    await waitFor(async () => {
      if (exit !== null) return Promise.reject(new Error(`redis-server exited with ${exit}`));
      return redisAnswers(this.url, 200);
    }, 'redis-server to load its AOF', 20000, 20);
  }
  async kill9(): Promise<void> {
    const proc = this.proc!;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }
}

async function kill9Nats(nats: LocalService): Promise<void> {
  process.kill(nats.pid!, 'SIGKILL');
  await waitFor(() => {
    try {
      process.kill(nats.pid!, 0);
      return false;
    } catch {
      return true;
    }
  }, 'nats-server to die', 10000);
  await waitFor(async () => !(await natsInfo(nats.url, 200)), 'the NATS port to close', 10000);
}

function findFiles(dir: string, keep: (path: string) => boolean): string[] {
  const out: string[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...findFiles(p, keep));
    else if (keep(p)) out.push(p);
  }
  return out;
}

/** A pager-mode MESSAGE over UDP (RFC 3428), retransmitted every 500 ms like Timer E; the final status, 0 if none. */
function sipMessageUdp(port: number, to: string, from: string, body: string, timeoutMs = 4000): Promise<number> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    const callId = randomUUID();
    sock.bind(0, '127.0.0.1', () => {
      const msg = [
        `MESSAGE ${to} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${sock.address().port};branch=z9hG4bK${randomUUID().replace(/-/g, '')};rport`,
        `From: <${from}>;tag=${randomUUID().slice(0, 8)}`,
        `To: <${to}>`,
        `Call-ID: ${callId}`,
        'CSeq: 1 MESSAGE',
        'Max-Forwards: 70',
        'Content-Type: text/plain',
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n');
      const send = () => sock.send(msg, port, '127.0.0.1');
      const retransmit = setInterval(send, 500);
      const timer = setTimeout(() => done(0), timeoutMs);
      const done = (code: number) => {
        clearInterval(retransmit);
        clearTimeout(timer);
        sock.close();
        resolve(code);
      };
      sock.on('message', (m) => {
        const text = m.toString('latin1');
        const code = Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1] ?? 0);
        if (code >= 200 && text.includes(callId)) done(code);
      });
      send();
    });
  });
}

/** The active (uncommented) `key value` lines of a redis.conf. */
function redisConf(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const [k, ...v] = t.split(/\s+/);
    m.set(k.toLowerCase(), v.join(' ').replace(/^"|"$/g, ''));
  }
  return m;
}

describe('kill -9 durability', () => {
  let dir: string;
  let redis: ShippedRedis;
  let nats: LocalService;
  let natsPort: number;
  let natsDir: string;
  let ns: Namespace;
  let enabler: RunningEnabler;
  let im: RunningImServer;
  let nc: NatsConnection;
  let ch2: Ch2Client;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imc-durability-'));
    redis = new ShippedRedis(await freePort(), join(dir, 'redis'));
    await redis.start();
    natsPort = await freePort();
    natsDir = join(dir, 'nats');
    nats = await startNats(natsPort, natsDir);
    ns = testNamespace({ REDIS_URL: redis.url, NATS_URL: nats.url, CDR_DUPLICATE_WINDOW_SECONDS: '5' });
    enabler = await startEnabler(ns);
    im = await startImServer(await imEnv(ns, { SIP_DEPOSIT_AUTH: 'none', CHARGING_TIMEOUT_MS: '2000' }));
    ({ nc, ch2 } = await ch2ClientFor(ns, { timeoutMs: 1500, retries: 2 }));
  });
  afterAll(async () => {
    await nc?.close().catch(() => undefined);
    await im?.close();
    await enabler?.close();
    await nats?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every Redis and NATS the product starts or ships a config for is the durable one', async () => {
    // the shipped redis.conf (docker-compose mounts it), as written and as Redis reads it
    const conf = redisConf(readFileSync(REDIS_CONF, 'utf8'));
    expect(conf.get('appendonly')).toBe('yes');
    expect(conf.get('appendfsync')).toBe('always');
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    expect(compose).toMatch(/redis\.conf/);
    expect(compose).not.toMatch(/--appendfsync(?!["',\s]+always)/);
    expect(compose).not.toMatch(/--appendonly["',\s]+no/);
    const shipped = new Redis(redis.url);
    try {
      expect(await shipped.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await shipped.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
    } finally {
      shipped.disconnect();
    }
    // the private Redis `npm start` starts when none answers: its files in a data directory (libs/runtime local-infra.ts)
    mkdirSync(join(dir, 'npm-start-redis'));
    const own = await startRedis({ dir: join(dir, 'npm-start-redis') });
    const c = new Redis(own.url);
    try {
      expect(await c.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await c.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
    } finally {
      c.disconnect();
      await own.stop();
    }

    // JetStream: the CDR stream is on file storage; the shipped nats.conf loads on the server the tests run and
    // carries `sync_interval: always` in its jetstream block — active from nats-server 2.10 on, which takes it,
    // commented for 2.9, which refuses it (and then the Redis outbox's retention is what keeps CDRs recoverable)
    const info = await (await nc.jetstreamManager()).streams.info(ns.env.CDR_STREAM);
    expect(info.config.storage).toBe('file');
    const text = readFileSync(NATS_CONF, 'utf8');
    const js = /jetstream\s*\{([^}]*)\}/.exec(text)?.[1] ?? '';
    const line = /^\s*(#\s*)?sync_interval:\s*always\s*$/m.exec(js);
    expect(line).not.toBeNull();
    const [major, minor] = String(nc.info?.version ?? '0.0').split('.').map(Number);
    const syncCapable = major > 2 || (major === 2 && minor >= 10);
    const env = { ...process.env, NATS_USER: 'u', NATS_PASSWORD: 'p' };
    const check = (file: string) => spawnSync(findBinary('nats-server')!, ['-c', file, '-t'], { env, encoding: 'utf8' });
    expect(check(NATS_CONF).status).toBe(0);
    const active = join(dir, 'nats-sync.conf');
    writeFileSync(active, text.replace(/^(\s*)#\s*(sync_interval:\s*always)\s*$/m, '$1$2'));
    expect(check(active).status === 0).toBe(syncCapable);
    if (syncCapable) expect(line![1]).toBeUndefined(); // a server that can sync every write must be told to
    expect(enabler.config.cdrRetentionDays).toBeGreaterThanOrEqual(31); // a billing month, at least
  });

  it('SIGKILL of redis-server, then of nats-server, loses no acknowledged write and conserves the money', async () => {
    const accounts: string[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const sub = `sip:chaos${i}-${ns.id}@example.com`;
      expect((await admin(enabler.httpPort, 'POST', '/v1/accounts', { subscriber: sub, balance: INITIAL, currency: 'EUR' })).status).toBe(201);
      accounts.push(sub);
    }
    const httpBox = `sip:box-${ns.id}@example.com`;
    const sipBox = `sip:sipbox-${ns.id}@example.com`;

    // what was acknowledged
    const deposits: string[] = [];
    let sip202 = 0;
    let sipSent = 0;
    const money = new Map<string, { type: string; subscriber: string; amount: number }>();
    let acked = 0;
    let failed = 0;
    let stop = false;
    const ack = () => acked++;

    const ops: (() => Promise<void>)[] = [
      async () => {
        const r = await admin(im.httpPort, 'POST', `/v1/users/${encodeURIComponent(httpBox)}/deferred`, { from: 'sip:alice@example.com', text: `m${randomUUID()}` });
        if (r.status !== 201) throw new Error(`deposit ${r.status}`);
        deposits.push(r.json.id);
      },
      async () => {
        sipSent++;
        const code = await sipMessageUdp(im.sipUdpPort, sipBox, 'sip:alice@example.com', `s${randomUUID()}`);
        if (code !== 202) throw new Error(`MESSAGE ${code}`);
        sip202++;
      },
      async () => {
        const sub = accounts[Math.floor(Math.random() * ACCOUNTS)];
        const amount = 1 + Math.floor(Math.random() * 50);
        const r = await admin(enabler.httpPort, 'POST', `/v1/accounts/${encodeURIComponent(sub)}/top-ups`, { amount, requestId: randomUUID() });
        if (r.status !== 201 || r.json.result !== 'SUCCESS') throw new Error(`top-up ${r.status}`);
        money.set(r.json.cdrId, { type: 'top-up', subscriber: sub, amount });
      },
      async () => {
        const sub = accounts[Math.floor(Math.random() * ACCOUNTS)];
        const r = await ch2.directDebit({ ...common(sub), items: [{ id: randomUUID(), octets: 100 + Math.floor(Math.random() * 3000) }] });
        if (r.result !== 'SUCCESS') throw new Error(`direct-debit ${r.result}`);
        money.set(r.cdrId!, { type: 'direct-debit', subscriber: sub, amount: r.debitedAmount! });
      },
      async () => {
        const sub = accounts[Math.floor(Math.random() * ACCOUNTS)];
        // item ids are stored-message ids: unique, since a message is charged once (debit-7.lua's charge-once mark)
        const [a, b] = [randomUUID(), randomUUID()];
        const r = await ch2.reserve({ ...common(sub), validitySeconds: 1, items: [{ id: a, octets: 500 }, { id: b, octets: 500 }] });
        if (r.result !== 'SUCCESS') throw new Error(`reserve ${r.result}`);
        const d = await ch2.debit({ ...common(sub), reservationId: r.reservationId!, itemId: a, outcome: 'delivered', octets: 400 });
        if (d.result !== 'SUCCESS') throw new Error(`debit ${d.result}`);
        money.set(d.cdrId!, { type: 'debit', subscriber: sub, amount: d.debitedAmount! });
        await ch2.release({ ...common(sub), reservationId: r.reservationId! });
      },
    ];
    const worker = async (w: number) => {
      for (let i = w; !stop; i++) {
        try {
          await ops[i % ops.length]();
          ack();
        } catch {
          failed++;
        }
      }
    };
    const reach = (n: number, what: string) => waitFor(() => acked >= n, what, 60000, 5);
    const load = Promise.all([...Array(WORKERS).keys()].map(worker));
    let lastSeqBefore = 0;
    try {
      await reach(STEP, 'load before the Redis kill');
      await redis.kill9();
      const atKill = acked;
      await redis.start();
      await reach(atKill + STEP, 'load after the Redis restart');
      await kill9Nats(nats);
      nats = await startNats(natsPort, natsDir);
      const atNats = acked;
      await reach(atNats + STEP, 'load after the first NATS restart');
      lastSeqBefore = (await (await nc.jetstreamManager()).streams.info(ns.env.CDR_STREAM)).state.last_seq;
      // a power cut: the CDR stream loses the tail it had not synced (its last block cut to half, its index gone, so
      // the server rebuilds it from what is left: the stream's last sequence goes backwards)
      await kill9Nats(nats);
      const blocks = findFiles(natsDir, (p) => p.includes(`/streams/${ns.env.CDR_STREAM}/msgs/`));
      const blk = blocks.filter((p) => p.endsWith('.blk')).sort((a, b) => parseInt(a.split('/').pop()!) - parseInt(b.split('/').pop()!)).pop();
      expect(blk).toBeDefined();
      truncateSync(blk!, Math.floor(statSync(blk!).size / 2));
      for (const p of blocks.filter((p) => p.endsWith('.idx') || p.endsWith('.fss'))) rmSync(p);
      nats = await startNats(natsPort, natsDir);
      // read at once on a fresh connection (the services reconnect after 250 ms): the stream did lose acknowledged CDRs
      const probe = await connect({ servers: nats.url });
      const lastSeqAfter = (await (await probe.jetstreamManager()).streams.info(ns.env.CDR_STREAM)).state.last_seq;
      await probe.close();
      expect(lastSeqAfter).toBeLessThan(lastSeqBefore);
      const atLoss = acked;
      await reach(atLoss + STEP, 'load after the second NATS restart');
    } finally {
      stop = true;
      await load;
    }
    expect(failed).toBeLessThan(acked * 10); // bounded: the load did make progress through every phase

    // every deposit answered 201 (HTTP) or 202 (SIP) is stored
    const stored = new Set(await im.store.pendingIds(httpBox));
    expect(deposits.length).toBeGreaterThan(0);
    expect(deposits.filter((id) => !stored.has(id))).toEqual([]);
    const sipStored = (await im.store.pendingIds(sipBox)).length;
    expect(sip202).toBeGreaterThan(0);
    expect(sipStored).toBeGreaterThanOrEqual(sip202);
    expect(sipStored).toBeLessThanOrEqual(sipSent);

    // every SUCCESS is in the ledger's outbox with its amount
    const keys = enabler.ledger.keys;
    const outbox = new Map<string, { type: string; subscriber: string; amount: number }>();
    for (let s = 0; s < keys.shards; s++)
      for (const [id, fields] of (await enabler.redis.xrange(keys.outbox(s), '-', '+')) as [string, string[]][]) {
        const c = entryToCdr(keys.tag(s), id, fields);
        outbox.set(c.cdrId, { type: c.type, subscriber: c.subscriber, amount: c.amount });
      }
    expect(money.size).toBeGreaterThan(0);
    expect([...money].filter(([id, m]) => JSON.stringify(outbox.get(id)) !== JSON.stringify(m))).toEqual([]);

    // every CDR reaches JetStream exactly once, including those the second crash took from the stream
    await waitFor(async () => {
      for (let s = 0; s < keys.shards; s++) {
        const last = (await enabler.redis.xrevrange(keys.outbox(s), '+', '-', 'COUNT', 1)) as [string, string[]][];
        if (last.length && (await enabler.redis.get(keys.relayPosition(s))) !== last[0][0]) return false;
      }
      return true;
    }, 'the relay to catch up', 30000, 50);
    const inStream = await waitFor(async () => {
      const ids: string[] = [];
      for await (const c of new JetStreamCdrSource(nc, ns.env.CDR_STREAM, ns.env.NATS_SUBJECT_PREFIX).all()) ids.push(c.cdrId);
      return ids.length >= outbox.size ? ids : undefined;
    }, 'every CDR on JetStream', 15000, 100);
    expect(new Set(inStream).size).toBe(inStream.length);
    expect([...outbox.keys()].filter((id) => !inStream.includes(id))).toEqual([]);
    expect(inStream.length).toBe(outbox.size);

    // conservation: once every hold is settled (released or expired), Σ balance + Σ charged = Σ initial + Σ top-ups,
    // and per account the JetStream CDRs account for the balance
    const finals = await waitFor(async () => {
      const all = await Promise.all(accounts.map(async (a) => (await admin(enabler.httpPort, 'GET', `/v1/accounts/${encodeURIComponent(a)}`)).json));
      return all.every((a) => a.reserved === 0) ? all : undefined;
    }, 'every hold settled', 20000, 50);
    const sum = (t: string[], sub?: string) =>
      [...outbox.values()].filter((c) => t.includes(c.type) && (!sub || c.subscriber === sub)).reduce((n, c) => n + c.amount, 0);
    const balances = finals.reduce((n: number, a: { balance: number }) => n + a.balance, 0);
    expect(balances + sum(['debit', 'direct-debit']) - sum(['refund'])).toBe(ACCOUNTS * INITIAL + sum(['top-up']));
    for (const a of finals) expect(a.balance).toBe(INITIAL + sum(['top-up'], a.subscriber) + sum(['refund'], a.subscriber) - sum(['debit', 'direct-debit'], a.subscriber));
    const report = await admin(enabler.httpPort, 'GET', '/v1/reports/billing?source=jetstream');
    expect(report.json.balanced).toBe(true);
  });
});
