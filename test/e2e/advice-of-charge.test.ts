/**
 * Advice of charge before a retrieval (retrieval-flow.md "Advice of charge"): `GET /v1/me/deferred` with the SIP
 * user's HTTP Basic answers what the waiting messages would cost at the tariff (test/fixtures/tariffs.test.yaml:
 * 5 cents a message + 1 per started KiB) and how many of them, oldest first, the credit covers — against a real
 * enabler, Redis and NATS — and reserves and charges nothing.
 */
import { account, deposit, imAdmin, provision, Stack, startStack, uniqueUser } from '../support/stack-harness';

describe('GET /v1/me/deferred (advice of charge before)', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(() => s?.close());

  const me = (user: string, pw: string) =>
    fetch(`http://127.0.0.1:${s.im.httpPort}/v1/me/deferred`, { headers: { authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` } });
  const userOf = (aor: string) => aor.slice(4, aor.indexOf('@'));

  it('prices every waiting message and counts how many the balance covers, in order; receipts are free and apart', async () => {
    const bob = await provision(s, uniqueUser('aoc'), 15);
    await deposit(s, bob, 'sip:alice@example.com', 'hi'); // 5 + 1 = 6
    await deposit(s, bob, 'sip:alice@example.com', 'x'.repeat(1500)); // 5 + 2 = 7
    await deposit(s, bob, 'sip:alice@example.com', 'y'); // 6: 19 in all, only the first two within 15
    const receipt = await s.im.store.deposit(bob, { from: 'sip:carol@example.com', to: bob, contentType: 'message/imdn+xml', body: Buffer.from('<imdn/>'), receipt: true });
    expect(receipt.ok).toBe(true);
    const r = await me(userOf(bob), 'secret-pw');
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ aor: bob, count: 3, octets: 2 + 1500 + 1, price: 19, currency: 'EUR', balance: 15, available: 15, affordable: 2, receipts: 1 });
    // asking reserved and charged nothing
    expect(await account(s, bob)).toMatchObject({ balance: 15, reserved: 0 });
  });

  it('a balance covering everything, an empty mailbox, a wrong password, a user without an account', async () => {
    const rich = await provision(s, uniqueUser('aoc'), 1000);
    await deposit(s, rich, 'sip:alice@example.com', 'one');
    await deposit(s, rich, 'sip:alice@example.com', 'two');
    expect(await (await me(userOf(rich), 'secret-pw')).json()).toMatchObject({ count: 2, price: 12, affordable: 2, balance: 1000 });

    const empty = await provision(s, uniqueUser('aoc'), 50);
    expect(await (await me(userOf(empty), 'secret-pw')).json()).toEqual({ aor: empty, count: 0, octets: 0, price: 0, currency: 'EUR', balance: 50, available: 50, affordable: 0, receipts: 0 });

    const wrong = await me(userOf(rich), 'not-the-password');
    expect(wrong.status).toBe(401);
    expect((await me('', 'x')).status).toBe(401);

    const noAccount = `sip:${uniqueUser('aoc')}@example.com`;
    await imAdmin(s, 'PUT', `/v1/users/${encodeURIComponent(noAccount)}`, { password: 'secret-pw' });
    await deposit(s, noAccount, 'sip:alice@example.com', 'hello');
    const r = await me(userOf(noAccount), 'secret-pw');
    expect(r.status).toBe(404);
    expect((await r.json()).message).toBe('no charging account');
  });
});
