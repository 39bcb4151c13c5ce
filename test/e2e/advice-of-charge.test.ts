/**
 * Advice of charge (retrieval-flow.md "Advice of charge"), against a real enabler, Redis and NATS. Before:
 * `GET /v1/me/deferred` with the SIP user's HTTP Basic answers what the waiting messages would cost at the tariff
 * (test/fixtures/tariffs.test.yaml: 5 cents a message + 1 per started KiB) and how many of them, oldest first, the
 * credit covers — and reserves and charges nothing. In the session (3GPP TS 24.647): a retrieval whose INVITE
 * accepts `application/vnd.etsi.aoc+xml` gets the AoC-S of the granted messages in a multipart 200 OK, and the AoC-E
 * — the sum of the session's debit CDRs and the balance after — in the server's BYE or in the 200 to its own.
 */
import { formatAocMoney } from '@imc/retrieval-client';
import { retrieve } from '../../apps/cli/src/retrieval-client';
import { waitFor } from '../support/enabler-harness';
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

describe('advice of charge in the retrieval session (TS 24.647 AoC-S / AoC-E)', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(() => s?.close());

  /** The session's debit CDRs, once its reservation was released (every debit settled before the release). */
  const debitsOf = async (aor: string) => {
    const cdrs = await waitFor(async () => {
      const list = (await s.enabler!.cdrs.list({ subscriber: aor })).cdrs;
      return list.some((c) => c.type === 'release') ? list : undefined;
    }, `${aor}'s release`, 8000, 20);
    return cdrs.filter((c) => c.type === 'debit');
  };

  it('the server hangs up (idle): multipart 200 with the AoC-S of the granted messages; AoC-E in its BYE', async () => {
    const bob = await provision(s, uniqueUser('aoc'), 100);
    for (const t of ['one', 'two', 'x'.repeat(1500)]) await deposit(s, bob, 'sip:alice@example.com', t); // 6 + 6 + 7
    const r = await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', timeoutMs: 10000 });
    expect(r.status).toBe(200);
    expect(r.endedBy).toBe('server');
    expect(r.messages).toHaveLength(3);
    expect(r.answerContentType).toMatch(/^multipart\/mixed;boundary=/);
    expect(r.aocS).toMatchObject({ kind: 'aoc-s', amount: { currency: 'EUR', units: 19, exponent: -2 } });
    const debits = await debitsOf(bob);
    expect(debits).toHaveLength(3);
    const cost = debits.reduce((a, d) => a + d.amount, 0);
    expect(cost).toBe(19);
    const acct = await account(s, bob);
    expect(r.aocE).toMatchObject({ kind: 'aoc-e', amount: { units: cost }, balanceAfter: { units: acct.balance } });
    expect(`cost ${formatAocMoney(r.aocE!.amount!)}, balance after ${formatAocMoney(r.aocE!.balanceAfter!)}`).toBe('cost 0.19 EUR, balance after 0.81 EUR');
  });

  it('the client sends BYE: the AoC-E comes in the 200 OK to it; a partial grant is priced as granted', async () => {
    const bob = await provision(s, uniqueUser('aoc'), 13); // covers the first two messages (6 + 6) of three
    for (const t of ['a', 'b', 'c']) await deposit(s, bob, 'sip:alice@example.com', t);
    const r = await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', expect: 2, timeoutMs: 10000 });
    expect(r.status).toBe(200);
    expect(r.endedBy).toBe('client');
    expect(r.messages.map((m) => m.text)).toEqual(['a', 'b']);
    expect(r.aocS).toMatchObject({ kind: 'aoc-s', amount: { units: 12 } });
    const debits = await debitsOf(bob);
    expect(debits.map((d) => d.amount)).toEqual([6, 6]);
    expect(r.aocE).toMatchObject({ kind: 'aoc-e', amount: { units: 12 }, balanceAfter: { units: 1 } });
    expect(await account(s, bob)).toMatchObject({ balance: 1, reserved: 0 });
  });

  it('a client that does not ask for AoC gets the SDP-only 200 OK and no AoC-E', async () => {
    const bob = await provision(s, uniqueUser('aoc'), 100);
    await deposit(s, bob, 'sip:alice@example.com', 'plain');
    const r = await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', timeoutMs: 10000, adviceOfCharge: false });
    expect(r.status).toBe(200);
    expect(r.messages.map((m) => m.text)).toEqual(['plain']);
    expect(r.answerContentType).toBe('application/sdp');
    expect(r.aocS).toBeUndefined();
    expect(r.aocE).toBeUndefined();
  });
});
