/**
 * Who is charged and what stays stored, for each CHARGING_POLICY against a client that answers MSRP 200, one that
 * answers 4xx and one that never answers (retrieval-flow.md "Charging policy"), and the credit cases.
 */
import { retrieve } from '../../apps/cli/src/retrieval-client';
import { account, deposit, imAdmin, pendingCount, provision, settled, Stack, startStack, uniqueUser } from '../support/stack-harness';
import { waitFor } from '../support/enabler-harness';

const P = 5 + 1; // im.deferred-retrieval in the test tariff: 5 per message + 1 per started KiB (short texts)

describe.each([
  // policy, charged when the client answers [200, 415, nothing], messages left stored
  ['on-outcome', [3, 3, 3]],
  ['on-delivery', [3, 0, 0]],
  ['before-send', [3, 3, 3]],
] as const)('CHARGING_POLICY=%s', (policy, charged) => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ im: { CHARGING_POLICY: policy, MSRP_TRANSACTION_TIMEOUT_MS: '150' } });
  });
  afterAll(() => s.close());

  const answers: [string, () => number | undefined, number][] = [
    ['200 OK', () => 200, 0],
    ['415', () => 415, 1],
    ['no answer (timeout)', () => undefined, 2],
  ];
  it.each(answers)('client answering %s', async (_what, answer, idx) => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    for (let i = 0; i < 3; i++) await deposit(s, bob, 'sip:alice@example.com', `m${i}`);
    const r = await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', answer, idleMs: 1500, timeoutMs: 8000, expect: answer() === 200 ? 3 : undefined });
    expect(r.status).toBe(200);
    const a = await settled(s, bob);
    expect(a.balance).toBe(100 - charged[idx] * P);
    const delivered = answer() === 200;
    expect(await pendingCount(s, bob)).toBe(delivered ? 0 : 3); // deleted only after MSRP 200 OK
    const debits = (await s.enabler!.cdrs.list({ subscriber: bob, type: 'debit' })).cdrs;
    expect(debits).toHaveLength(charged[idx]);
  });
});

describe('credit and account cases', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(() => s.close());

  it('enough for 2 of 5: 2 delivered, 3 stay stored, charged for 2', async () => {
    const bob = await provision(s, uniqueUser('bob'), 2 * P + 3);
    for (let i = 0; i < 5; i++) await deposit(s, bob, 'sip:alice@example.com', `n${i}`);
    const r = await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', expect: 2, timeoutMs: 8000 });
    expect(r.messages.map((m) => m.text)).toEqual(['n0', 'n1']);
    expect((await settled(s, bob)).balance).toBe(3);
    expect(await pendingCount(s, bob)).toBe(3);
  });

  it('zero credit → 403 naming the reason, nothing delivered', async () => {
    const bob = await provision(s, uniqueUser('bob'), 0);
    await deposit(s, bob, 'sip:alice@example.com', 'x');
    const r = await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', timeoutMs: 5000 });
    expect(r.status).toBe(403);
    expect(r.warning).toMatch(/^399 \S+ "not enough credit/);
    expect(r.messages).toEqual([]);
    expect(await pendingCount(s, bob)).toBe(1);
  });

  it('suspended account → 403; unknown subscriber → 403', async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    await deposit(s, bob, 'sip:alice@example.com', 'x');
    await (await import('../support/enabler-harness')).admin(s.enabler!.httpPort, 'PATCH', `/v1/accounts/${encodeURIComponent(bob)}`, { state: 'suspended' });
    const r = await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', timeoutMs: 5000 });
    expect(r.status).toBe(403);
    expect(r.warning).toMatch(/denied/);
    const ghost = `sip:${uniqueUser('ghost')}@example.com`;
    await imAdmin(s, 'PUT', `/v1/users/${encodeURIComponent(ghost)}`, { password: 'secret-pw' });
    await deposit(s, ghost, 'sip:alice@example.com', 'x');
    const g = await retrieve({ sipWsUrl: s.sipWsUrl, aor: ghost, password: 'secret-pw', timeoutMs: 5000 });
    expect(g.status).toBe(403);
    expect(g.warning).toMatch(/no charging account/);
  });

  it("alice's credentials never yield bob's messages, whatever From says", async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    const alice = await provision(s, uniqueUser('alice'), 100);
    await deposit(s, bob, 'sip:carol@example.com', 'for bob only');
    // alice authenticates as alice but claims to be bob in From: the identity is the digest username
    const r = await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, username: alice.slice(4, alice.indexOf('@')), password: 'secret-pw', register: false, timeoutMs: 5000 });
    expect(r.status).toBe(404); // alice has nothing waiting
    expect(r.messages).toEqual([]);
    expect(await pendingCount(s, bob)).toBe(1);
    expect((await account(s, bob)).balance).toBe(100);
  });
});

describe('enabler unavailable', () => {
  it('enabler stopped → 503 with Retry-After and no free delivery', async () => {
    const s = await startStack();
    try {
      const bob = await provision(s, uniqueUser('bob'), 100);
      await deposit(s, bob, 'sip:alice@example.com', 'x');
      await s.enabler!.close();
      const r = await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', timeoutMs: 5000 });
      expect(r.status).toBe(503);
      expect(r.messages).toEqual([]);
      expect(await pendingCount(s, bob)).toBe(1);
    } finally {
      await s.im.close();
    }
  });

  it('enabler gone mid-session: debits wait in the durable queue and are charged exactly once when it returns', async () => {
    const { testNamespace, startEnabler, admin } = await import('../support/enabler-harness');
    const { imEnv } = await import('../support/stack-harness');
    const { startImServer } = await import('../../apps/im-server/src/bootstrap');
    const ns = testNamespace();
    let enabler = await startEnabler(ns);
    const im = await startImServer(await imEnv(ns));
    const s = { ns, enabler, im, env: {}, sipWsUrl: `ws://127.0.0.1:${im.sipWsPort}`, close: async () => undefined } as unknown as Stack;
    try {
      const bob = await provision(s, uniqueUser('bob'), 100);
      for (let i = 0; i < 3; i++) await deposit(s, bob, 'sip:alice@example.com', `q${i}`);
      let stopped: Promise<void> | undefined;
      const r = await retrieve({
        sipWsUrl: s.sipWsUrl,
        aor: bob,
        password: 'secret-pw',
        expect: 3,
        timeoutMs: 8000,
        // the enabler goes away as the first message arrives: its debit and the rest cannot be answered
        onMessage: () => void (stopped ??= enabler.close()),
      });
      expect(r.messages).toHaveLength(3);
      await stopped;
      // what the enabler could not answer waits in the durable queue: a request still in flight when it went away is
      // queued once its own time is up (CHARGING_TIMEOUT_MS × retries), so wait for that rather than look at once
      await waitFor(async () => (await im.retryQueue.depth()) > 0, 'something queued while the enabler is away', 5000, 20);
      enabler = await startEnabler(ns);
      await waitFor(async () => (await im.retryQueue.depth()) === 0, 'the retry queue drained', 10000, 50);
      const a = (await admin(enabler.httpPort, 'GET', `/v1/accounts/${encodeURIComponent(bob)}`)).json;
      const debits = (await enabler.cdrs.list({ subscriber: bob, type: 'debit' })).cdrs;
      expect(debits).toHaveLength(3);
      // replayed in causal order (debits before the release): no debit fell back to a direct debit, and every CDR
      // names its message and outcome
      expect((await enabler.cdrs.list({ subscriber: bob, type: 'direct-debit' })).cdrs).toHaveLength(0);
      expect(new Set(debits.map((d) => d.itemId)).size).toBe(3);
      for (const d of debits) expect(d.outcome).toBe('delivered');
      expect(a).toMatchObject({ balance: 100 - 3 * P, reserved: 0 });
      expect(await pendingCount(s, bob)).toBe(0);
    } finally {
      await im.close();
      await enabler.close();
    }
  });
});
