/**
 * The ways a client could get messages without paying, or pay twice, that a reviewer found and the session now
 * closes: withholding every MSRP 200 and hanging up before the transaction timeout; two retrievals of the same
 * messages at once; a debit that reaches the enabler after its reservation was released or expired.
 */
import { retrieve } from '../../apps/cli/src/retrieval-client';
import { deposit, imAdmin, pendingCount, provision, settled, Stack, startStack, uniqueUser } from '../support/stack-harness';
import Redis from 'ioredis';
import { startRedis, LocalService } from '@imc/runtime';
import { ch2ClientFor, waitFor } from '../support/enabler-harness';

const P = 5 + 1; // im.deferred-retrieval in the test tariff: 5 per message + 1 per started KiB (short texts)

describe.each([
  // policy, SENDs the client receives (before-send sends one at a time, so only the first), messages charged
  ['on-outcome', 3, 3],
  ['on-delivery', 3, 0],
  ['before-send', 1, 1],
] as const)('CHARGING_POLICY=%s: client withholds every 200 and hangs up before the MSRP timeout', (policy, sent, charged) => {
  let s: Stack;
  beforeAll(async () => {
    // a transaction timeout far beyond the test: only the client's BYE ends these transactions
    s = await startStack({ im: { CHARGING_POLICY: policy, MSRP_TRANSACTION_TIMEOUT_MS: '20000', IM_SESSION_IDLE_MS: '20000' } });
  });
  afterAll(() => s.close());

  it(`charges ${charged} of 3 and keeps all 3 stored`, async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    for (let i = 0; i < 3; i++) await deposit(s, bob, 'sip:alice@example.com', `w${i}`);
    let seen = 0;
    const r = await retrieve({
      sipWsUrl: s.sipWsUrl,
      aor: bob,
      password: 'secret-pw',
      answer: () => {
        seen++;
        return undefined; // never answer
      },
      idleMs: 400, // then BYE, long before the 20 s transaction timeout
      timeoutMs: 10000,
    });
    expect(r.status).toBe(200);
    expect(r.endedBy).toBe('client');
    expect(seen).toBe(sent); // what was sent reached the client
    const a = await settled(s, bob);
    expect(a.balance).toBe(100 - charged * P);
    expect(await pendingCount(s, bob)).toBe(3); // no 200, nothing deleted
    const debits = (await s.enabler!.cdrs.list({ subscriber: bob, type: 'debit' })).cdrs;
    expect(debits).toHaveLength(charged);
    if (policy === 'on-outcome') expect(debits.every((d) => d.outcome === 'timeout')).toBe(true);
    expect((await s.enabler!.cdrs.list({ subscriber: bob, type: 'refund' })).cdrs).toHaveLength(0);
  });
});

describe('one retrieval per user at a time', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(() => s.close());

  it('a second INVITE while the first retrieval runs gets 486 and nothing is delivered or charged twice', async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    for (let i = 0; i < 3; i++) await deposit(s, bob, 'sip:alice@example.com', `c${i}`);
    let second: ReturnType<typeof retrieve> | undefined;
    let secondDone = false;
    const first = await retrieve({
      sipWsUrl: s.sipWsUrl,
      aor: bob,
      password: 'secret-pw',
      answer: () => {
        second ??= retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', expect: 3, timeoutMs: 8000 }).finally(() => (secondDone = true));
        return 200;
      },
      onMessage: () => undefined,
      idleMs: 3000, // the first session stays up (idle) until the second attempt has its answer
      timeoutMs: 8000,
    });
    expect(secondDone).toBe(true); // the second attempt ended while the first session was still up
    const r2 = await second!;
    expect(first.messages.map((m) => m.text)).toEqual(['c0', 'c1', 'c2']);
    expect(r2.status).toBe(486);
    expect(r2.messages).toHaveLength(0);
    const a = await settled(s, bob);
    expect(a.balance).toBe(100 - 3 * P);
    expect((await s.enabler!.cdrs.list({ subscriber: bob, type: 'debit' })).cdrs).toHaveLength(3);
    // the lease is gone with the session: the user can retrieve again (nothing left → 404)
    const again = await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', timeoutMs: 8000 });
    expect(again.status).toBe(404);
  });
});

describe('a debit that arrives after its reservation is gone', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(() => s.close());

  it('falls back to a direct debit of the item, charged once however often it is replayed', async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    const charging = s.im.charging;
    const items = [{ id: 'late-1', octets: 10 }];
    const rsv = await charging.reserve(bob, `rsv:late:${bob}`, 'late-session', items);
    if (rsv.kind !== 'answer' || rsv.res.result !== 'SUCCESS') throw new Error(`reserve: ${JSON.stringify(rsv)}`);
    const rid = rsv.res.reservationId!;
    await charging.release(bob, 'late-session', rid); // the session end overtook the debit
    // the message's outcome is known (it was delivered): the debit must still be charged
    for (let i = 0; i < 2; i++) {
      const d = await charging.debit(bob, 'late-session', rid, 'late-1', 'delivered', 10, true);
      expect(d.kind === 'answer' && d.res.result).toBe('UNKNOWN_RESERVATION');
    }
    const a = await settled(s, bob);
    expect(a.balance).toBe(100 - P);
    const dd = (await s.enabler!.cdrs.list({ subscriber: bob, type: 'direct-debit' })).cdrs;
    expect(dd).toHaveLength(1);
    expect(dd[0].requestId).toBe(`ddb:${rid}:late-1`);
    // a before-send debit (outcome not known yet) never falls back: a refusal there means "do not send"
    const rsv2 = await charging.reserve(bob, `rsv:late2:${bob}`, 'late-session-2', [{ id: 'late-2', octets: 10 }]);
    if (rsv2.kind !== 'answer' || rsv2.res.result !== 'SUCCESS') throw new Error('reserve 2');
    await charging.release(bob, 'late-session-2', rsv2.res.reservationId!);
    await charging.debit(bob, 'late-session-2', rsv2.res.reservationId!, 'late-2', 'delivered', 10);
    expect((await settled(s, bob)).balance).toBe(100 - P);
  });

  it('an item already debited is answered `settled`, and the fallback leaves it alone', async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    const charging = s.im.charging;
    const rsv = await charging.reserve(bob, `rsv:twice:${bob}`, 'twice', [{ id: 'once', octets: 10 }]);
    if (rsv.kind !== 'answer' || rsv.res.result !== 'SUCCESS') throw new Error('reserve');
    const rid = rsv.res.reservationId!;
    const first = await charging.debit(bob, 'twice', rid, 'once', 'delivered', 10, true);
    expect(first.kind === 'answer' && first.res.result).toBe('SUCCESS');
    // the same item under another requestId (as a replay would look once the idempotency window has passed)
    const { nc, ch2 } = await ch2ClientFor(s.ns);
    try {
      const again = await ch2.debit({ requestId: `dbt-other-${rid}`, subscriber: bob, service: 'im.deferred-retrieval', timestamp: new Date().toISOString(), reservationId: rid, itemId: 'once', outcome: 'delivered', octets: 10 });
      expect(again.result).toBe('UNKNOWN_RESERVATION');
      expect(again.settled).toBe(true);
    } finally {
      await nc.close();
    }
    await charging.release(bob, 'twice', rid);
    expect((await settled(s, bob)).balance).toBe(100 - P);
    expect((await s.enabler!.cdrs.list({ subscriber: bob, type: 'direct-debit' })).cdrs).toHaveLength(0);
  });
});

describe("a Redis blip between a message's debit and its deletion", () => {
  let s: Stack;
  let storeRedis: LocalService;
  let ctl: Redis;
  beforeAll(async () => {
    storeRedis = await startRedis(); // the im-server's own Redis, so the test can refuse it scripts for a moment
    ctl = new Redis(storeRedis.url);
    s = await startStack({ im: { REDIS_URL: storeRedis.url } });
  });
  afterAll(async () => {
    await s.close();
    ctl.disconnect();
    await storeRedis.stop();
  });

  it('retries the deletion: every delivered message is deleted and charged exactly once', async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    for (let i = 0; i < 3; i++) await deposit(s, bob, 'sip:alice@example.com', `b${i}`);
    let refused: Promise<unknown> | undefined;
    let restored: Promise<unknown> | undefined;
    const r = await retrieve({
      sipWsUrl: s.sipWsUrl,
      aor: bob,
      password: 'secret-pw',
      answer: () => {
        // the first 200 is on its way: from now on, for 300 ms, the store's Redis refuses every script (NOPERM)
        refused ??= ctl.call('ACL', 'SETUSER', 'default', '-evalsha', '-eval').then(() => {
          restored = new Promise((res) => setTimeout(res, 300)).then(() => ctl.call('ACL', 'SETUSER', 'default', '+evalsha', '+eval'));
        });
        return 200;
      },
      expect: 3,
      timeoutMs: 10000,
    });
    await refused;
    await restored;
    expect(r.messages.map((m) => m.text)).toEqual(['b0', 'b1', 'b2']);
    // the session releases its reservation only once every message is settled (deleted, after the retries)
    await waitFor(async () => (await s.enabler!.cdrs.list({ subscriber: bob, type: 'release' })).cdrs.length > 0 || undefined, 'the session end', 15000, 20);
    const a = await settled(s, bob);
    expect(a.balance).toBe(100 - 3 * P);
    expect((await s.enabler!.cdrs.list({ subscriber: bob, type: 'debit' })).cdrs).toHaveLength(3);
    expect(await pendingCount(s, bob)).toBe(0); // nothing left to be delivered and charged again
  });
});

describe.each(['on-outcome', 'on-delivery', 'before-send'] as const)(
  'CHARGING_POLICY=%s: a message charged by a session that died before deleting it',
  (policy) => {
    let s: Stack;
    beforeAll(async () => {
      // short reservations: the dead session's hold expires within the test
      s = await startStack({ im: { CHARGING_POLICY: policy, RESERVATION_VALIDITY_SECONDS: '2' } });
    });
    afterAll(() => s.close());

    it('is delivered again by the next session and not charged again (the charge-once key is the message)', async () => {
      const bob = await provision(s, uniqueUser('bob'), 100);
      for (let i = 0; i < 3; i++) await deposit(s, bob, 'sip:alice@example.com', `d${i}`);
      const stored = (await imAdmin(s, 'GET', `/v1/users/${encodeURIComponent(bob)}/deferred`)).json.messages as { id: string; octets: number }[];
      // the session that died: reserved all three, charged the first (its outcome came), died before deleting it
      const dead = await s.im.charging.reserve(bob, `rsv:dead:${bob}`, 'dead-session', stored.map((m) => ({ id: m.id, octets: m.octets })));
      if (dead.kind !== 'answer' || dead.res.result !== 'SUCCESS') throw new Error(`reserve: ${JSON.stringify(dead)}`);
      const first = await s.im.charging.debit(bob, 'dead-session', dead.res.reservationId!, stored[0].id, 'delivered', stored[0].octets, true);
      expect(first.kind === 'answer' && first.res.debitedAmount).toBe(P);
      const r = await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', expect: 3, timeoutMs: 8000 });
      expect(r.messages.map((m) => m.text)).toEqual(['d0', 'd1', 'd2']);
      const a = await settled(s, bob);
      expect(a.balance).toBe(100 - 3 * P);
      expect(await pendingCount(s, bob)).toBe(0);
      const charges = [
        ...(await s.enabler!.cdrs.list({ subscriber: bob, type: 'debit' })).cdrs,
        ...(await s.enabler!.cdrs.list({ subscriber: bob, type: 'direct-debit' })).cdrs,
      ];
      expect(charges.map((c) => c.itemId).sort()).toEqual(stored.map((m) => m.id).sort());
    });
  },
);

