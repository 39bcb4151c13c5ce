/**
 * A reservation that expires while messages remain is renewed for the rest (retrieval-flow.md): with a 1-second
 * validity and a first message the client leaves unanswered past it, the remaining messages are charged against
 * a new reservation, each exactly once.
 */
import { retrieve } from '../../apps/cli/src/retrieval-client';
import { deposit, provision, settled, Stack, startStack, uniqueUser } from '../support/stack-harness';

/** Three messages; the client leaves the first unanswered (it times out, past the renewal point) and takes the rest. */
async function leaveFirstUnanswered(s: Stack, bob: string): Promise<void> {
  for (const t of ['one', 'two', 'three']) await deposit(s, bob, 'sip:alice@example.com', t);
  let n = 0;
  const r = await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', answer: () => (n++ === 0 ? undefined : 200), expect: 2, timeoutMs: 10000 });
  expect(r.messages.map((m) => m.text)).toEqual(['two', 'three']);
}

describe('reservation renewal', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ im: { RESERVATION_VALIDITY_SECONDS: '1', CHARGING_POLICY: 'before-send', MSRP_TRANSACTION_TIMEOUT_MS: '1500', IM_SESSION_IDLE_MS: '300' } });
  });
  afterAll(() => s.close());

  it('renews an expired reservation for the messages left, charging each once', async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    await leaveFirstUnanswered(s, bob);
    const acct = await settled(s, bob);
    const debits = (await s.enabler!.cdrs.list({ subscriber: bob, type: 'debit' })).cdrs;
    expect(debits).toHaveLength(3); // before-send: the unanswered first message was charged before it was sent
    expect(new Set(debits.map((d) => d.itemId)).size).toBe(3);
    const reservations = new Set(debits.map((d) => d.reservationId));
    expect(reservations.size).toBe(2); // the first one expired; the rest went on a renewed reservation
    expect(acct.balance).toBe(100 - 3 * 6);
  });
});

describe('reservation renewal with exactly enough credit', () => {
  let s: Stack;
  beforeAll(async () => {
    // the first message times out at 1.7 s, inside the renewal margin (validity/5 = 0.4 s) but before the 2 s
    // reservation expires: the renewal must give the old hold back before reserving the rest again
    s = await startStack({ im: { RESERVATION_VALIDITY_SECONDS: '2', CHARGING_POLICY: 'before-send', MSRP_TRANSACTION_TIMEOUT_MS: '1700', IM_SESSION_IDLE_MS: '300' } });
  });
  afterAll(() => s.close());

  it('renews before the old reservation expires with exactly enough credit: the old hold is given back first', async () => {
    const bob = await provision(s, uniqueUser('bob'), 3 * 6); // not a cent more than the three messages
    await leaveFirstUnanswered(s, bob);
    const acct = await settled(s, bob);
    expect(acct.balance).toBe(0);
    expect((await s.enabler!.cdrs.list({ subscriber: bob, type: 'debit' })).cdrs).toHaveLength(3);
  });
});
