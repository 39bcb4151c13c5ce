import { retrieve } from '../../apps/cli/src/retrieval-client';
import { account, deposit, imAdmin, provision, Stack, startStack, uniqueUser } from '../support/stack-harness';
import { waitFor } from '../support/enabler-harness';
const P = 6;
const settled = (s: Stack, aor: string) => waitFor(async () => { const a = await account(s, aor); return a.reserved === 0 ? a : undefined; }, 'settled', 8000, 20);
const pendingCount = async (s: Stack, aor: string) => (await imAdmin(s, 'GET', `/v1/users/${encodeURIComponent(aor)}/deferred`)).json.messages.length;

describe.each(['on-outcome', 'before-send'] as const)('withhold 200 then BYE, %s', (policy) => {
  let s: Stack;
  beforeAll(async () => { s = await startStack({ im: { CHARGING_POLICY: policy, MSRP_TRANSACTION_TIMEOUT_MS: '30000' } }); });
  afterAll(() => s.close());
  it('client reads the bodies, never answers, hangs up', async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    for (let i = 0; i < 3; i++) await deposit(s, bob, 'sip:alice@example.com', `secret${i}`);
    const seen: string[] = [];
    await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', answer: (m) => { seen.push(Buffer.from(m.body).toString()); return undefined; }, idleMs: 800, timeoutMs: 8000 });
    const a = await settled(s, bob);
    const debits = (await s.enabler!.cdrs.list({ subscriber: bob, type: 'debit' })).cdrs;
    const refunds = (await s.enabler!.cdrs.list({ subscriber: bob, type: 'refund' })).cdrs;
    console.log(policy, 'bodies seen by client:', seen.length, seen.map((b) => /secret\d/.exec(b)?.[0]), 'balance', a.balance, 'debits', debits.length, 'refunds', refunds.length, 'pending', await pendingCount(s, bob));
  });
});

describe('two concurrent retrievals of one user', () => {
  let s: Stack;
  beforeAll(async () => { s = await startStack(); });
  afterAll(() => s.close());
  it('charges each message once?', async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    for (let i = 0; i < 3; i++) await deposit(s, bob, 'sip:alice@example.com', `c${i}`);
    const [r1, r2] = await Promise.all([
      retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', expect: 3, timeoutMs: 8000 }),
      retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', expect: 3, timeoutMs: 8000 }),
    ]);
    const a = await settled(s, bob);
    const debits = (await s.enabler!.cdrs.list({ subscriber: bob, type: 'debit' })).cdrs;
    console.log('concurrent: status', r1.status, r2.status, 'msgs', r1.messages.length, r2.messages.length, 'balance', a.balance, 'expected', 100 - 3 * P, 'debits', debits.length, debits.map((d) => d.itemId));
  });
});
