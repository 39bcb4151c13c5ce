/**
 * Chaos in the middle of a bulk retrieval (issue "Charged once and safe whatever crashes"; retrieval-flow.md
 * "Charged once, whatever crashes"): kill -9 of the im-server, kill -9 of one of two enabler replicas, a restart of
 * Redis, a restart of NATS — each while a client is receiving a bulk of messages. The client then retrieves until
 * nothing is left. Per scenario the suite prints and asserts: every message delivered (some twice: deletion follows
 * the charge), none stored, each charged once (charged twice = 0), none lost, and no money created or destroyed
 * (balance = initial − what the CDRs charged = initial − one price per message).
 *
 * Runs on private Redis and NATS servers it starts itself, the services as processes from dist/ (npm run test:chaos
 * builds first). Waits on events (log lines, answers, counts), never on fixed sleeps.
 */
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import type { Cdr } from '@imc/ch2';
import { retrieve, RetrieveResult } from '../../apps/cli/src/retrieval-client';
import { ChaosStack } from './chaos-stack';

const N = Number(process.env.CHAOS_MESSAGES ?? 150);
/** The chaos starts when the client has received this many messages. */
const AT = Math.floor(N / 4);
const PASSWORD = 'chaos-pw';

interface Figures {
  scenario: string;
  /** Messages the client had received when the chaos began, and when it was over (the part back up). */
  chaosAt: number;
  restoredAt: number;
  deposited: number;
  delivered: number;
  redelivered: number;
  stored: number;
  charged: number;
  chargedTwice: number;
  lost: number;
  uncharged: number;
  moneyDelta: number;
  retrievals: number;
  seconds: number;
}

const report: Figures[] = [];

async function until<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

describe('chaos in the middle of a bulk retrieval', () => {
  let s: ChaosStack;
  let redis: Redis;

  beforeAll(async () => {
    s = new ChaosStack();
    await s.start();
    redis = new Redis(s.redis.url, { maxRetriesPerRequest: null });
  }, 120000);

  afterAll(async () => {
    redis?.disconnect();
    await s?.close();
    if (report.length) {
      const cols: (keyof Figures)[] = ['scenario', 'chaosAt', 'restoredAt', 'deposited', 'delivered', 'redelivered', 'stored', 'charged', 'chargedTwice', 'lost', 'uncharged', 'moneyDelta', 'retrievals', 'seconds'];
      const rows = [cols.map(String), ...report.map((f) => cols.map((c) => String(f[c])))];
      const w = cols.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
      process.stdout.write(`\n${rows.map((r) => r.map((v, i) => v.padEnd(w[i])).join('  ')).join('\n')}\n\n`);
    }
  }, 60000);

  async function provision(tag: string): Promise<{ aor: string; ids: Map<string, string>; initial: number }> {
    const aor = `sip:${tag}${randomBytes(3).toString('hex')}@example.com`;
    const initial = 1_000_000;
    const a = await s.enablerAdmin('POST', '/v1/accounts', { subscriber: aor, balance: initial, currency: 'EUR' });
    if (a.status !== 201) throw new Error(`account: ${a.status} ${JSON.stringify(a.json)}`);
    const u = await s.admin(s.imHttp, 'PUT', `/v1/users/${encodeURIComponent(aor)}`, { password: PASSWORD });
    if (u.status !== 201 && u.status !== 200) throw new Error(`user: ${u.status}`);
    const ids = new Map<string, string>(); // text → stored message id
    for (let i = 0; i < N; i++) {
      const text = `chaos message ${i}`;
      const d = await s.admin(s.imHttp, 'POST', `/v1/users/${encodeURIComponent(aor)}/deferred`, { from: 'sip:alice@example.com', text });
      if (d.status !== 201) throw new Error(`deposit: ${d.status} ${JSON.stringify(d.json)}`);
      ids.set(text, d.json.id);
    }
    return { aor, ids, initial };
  }

  const stored = async (aor: string): Promise<string[]> => {
    const r = await s.admin(s.imHttp, 'GET', `/v1/users/${encodeURIComponent(aor)}/deferred`);
    if (r.status !== 200) throw new Error(`stored: ${r.status}`);
    return (r.json.messages as { id: string }[]).map((m) => m.id);
  };

  async function allCdrs(aor: string): Promise<Cdr[]> {
    const out: Cdr[] = [];
    let cursor: string | undefined;
    do {
      const q = new URLSearchParams({ subscriber: aor, limit: '1000', ...(cursor ? { cursor } : {}) });
      const r = await s.enablerAdmin('GET', `/v1/cdrs?${q}`);
      if (r.status !== 200) throw new Error(`cdrs: ${r.status}`);
      out.push(...r.json.cdrs);
      cursor = r.json.nextCursor;
    } while (cursor);
    return out;
  }

  /**
   * One scenario: a bulk retrieval with `chaos` started at the AT-th message, then retrievals until nothing is left
   * stored, then (once the retry queue is empty and no credit is held) the figures from the store and the CDRs.
   */
  async function scenario(name: string, chaos: () => Promise<void>): Promise<Figures> {
    const started = Date.now();
    const { aor, ids, initial } = await provision(name.replace(/[^a-z]/g, ''));
    const received: string[] = [];
    let chaosDone: Promise<void> | undefined;
    let restoredAt = -1;
    const onMessage = (m: { text: string }) => {
      received.push(m.text);
      if (received.length === AT) chaosDone ??= chaos().then(() => void (restoredAt = received.length));
    };
    const attempt = (): Promise<RetrieveResult | undefined> =>
      retrieve({ sipWsUrl: s.sipWsUrl, aor, password: PASSWORD, idleMs: 3000, timeoutMs: 60000, onMessage }).catch(() => undefined);
    let sessions = 1;
    await attempt();
    if (!chaosDone) throw new Error(`${name}: the first retrieval ended after ${received.length} messages, before the chaos`);
    await chaosDone;
    // retrieve until nothing is left: refusals (486 while a dead session's lease runs out, 503 while charging is
    // unreachable) are answers to wait on, not failures
    await until(
      async () => {
        if ((await stored(aor)).length === 0) return true;
        sessions++;
        await attempt();
        return (await stored(aor)).length === 0;
      },
      `${name}: every message retrieved`,
      120000,
      1000,
    );
    // settled: nothing left in the im-server's retry queue, nothing held (a dead session's reservation expires)
    await until(async () => (await redis.zcard(`${s.keyPrefix}ch2q:{retry}:due`)) === 0, `${name}: retry queue empty`, 60000);
    const account = await until(
      async () => {
        const a = await s.enablerAdmin('GET', `/v1/accounts/${encodeURIComponent(aor)}`);
        return a.status === 200 && a.json.reserved === 0 ? a.json : undefined;
      },
      `${name}: no credit held`,
      60000,
      200,
    );

    const cdrs = await allCdrs(aor);
    const charges = cdrs.filter((c) => (c.type === 'debit' || c.type === 'direct-debit') && c.amount > 0);
    const refunds = cdrs.filter((c) => c.type === 'refund');
    for (const c of charges) {
      // every CDR of a message names the message and the outcome that caused it, whichever path wrote it
      expect(c.itemId).toBeTruthy();
      expect(c.outcome).toBeTruthy();
    }
    const perItem = new Map<string, number>();
    for (const c of charges) perItem.set(c.itemId!, (perItem.get(c.itemId!) ?? 0) + 1);
    for (const r of refunds) {
      const of = charges.find((c) => c.cdrId === (r as unknown as { refundOf?: string }).refundOf);
      if (of && r.amount === of.amount) perItem.set(of.itemId!, (perItem.get(of.itemId!) ?? 0) - 1);
    }
    const price = charges[0]?.amount ?? 0;
    const deliveredIds = new Set(received.map((t) => ids.get(t)));
    const left = new Set(await stored(aor));
    const all = [...ids.values()];
    const charged = all.filter((id) => (perItem.get(id) ?? 0) >= 1).length;
    const spent = initial - account.balance;
    const f: Figures = {
      scenario: name,
      chaosAt: AT,
      restoredAt,
      deposited: N,
      delivered: deliveredIds.size,
      redelivered: received.length - deliveredIds.size,
      stored: left.size,
      charged,
      chargedTwice: all.filter((id) => (perItem.get(id) ?? 0) >= 2).length,
      lost: all.filter((id) => !deliveredIds.has(id) && !left.has(id)).length,
      uncharged: all.filter((id) => deliveredIds.has(id) && (perItem.get(id) ?? 0) === 0).length,
      // what left the account against one price per message charged (and against the CDRs, checked below)
      moneyDelta: spent - charged * price,
      retrievals: sessions,
      seconds: Math.round((Date.now() - started) / 1000),
    };
    report.push(f);
    process.stdout.write(`chaos ${JSON.stringify(f)}\n`);
    const sum = (list: Cdr[]) => list.reduce((t, c) => t + c.amount, 0);
    expect(spent).toBe(sum(charges) - sum(refunds)); // the CDRs account for every change of the balance
    expect(account.totals.debits).toBe(sum(charges));
    expect(charges.every((c) => c.amount === price)).toBe(true);
    expect(f).toMatchObject({ delivered: N, stored: 0, charged: N, chargedTwice: 0, lost: 0, uncharged: 0, moneyDelta: 0 });
    return f;
  }

  it('kill -9 of the im-server', async () => {
    const f = await scenario('kill -9 im-server', async () => {
      await s.im.kill9();
      await s.im.start();
    });
    expect(f.retrievals).toBeGreaterThan(1);
  }, 300000);

  // the charge-once key belongs to the message under every policy: the same crash under the two other policies
  it.each(['on-delivery', 'before-send'])('kill -9 of the im-server under CHARGING_POLICY=%s', async (policy) => {
    await s.restartIm({ CHARGING_POLICY: policy });
    try {
      const f = await scenario(`kill -9 im-server (${policy})`, async () => {
        await s.im.kill9();
        await s.im.start();
      });
      expect(f.retrievals).toBeGreaterThan(1);
    } finally {
      await s.restartIm({ CHARGING_POLICY: 'on-outcome' });
    }
  }, 300000);

  it('kill -9 of one of two enabler replicas', async () => {
    await scenario('kill -9 enabler', async () => {
      await s.enablers[0].kill9();
      await s.enablers[0].start();
    });
  }, 300000);

  it('restart of Redis', async () => {
    await scenario('restart redis', () => s.restartRedis());
  }, 300000);

  it('restart of NATS', async () => {
    await scenario('restart nats', () => s.restartNats());
  }, 300000);
});
