/**
 * The product's reason to exist, end to end with a user agent nobody here wrote: sip.js registers with digest over
 * WebSocket, INVITEs the deferred-messaging URI, receives the deferred messages over MSRP, BYEs — and the
 * subscriber is charged exactly the tariff price, with CDRs to match and an empty store afterwards.
 */
import { retrieve } from '../../apps/cli/src/retrieval-client';
import { account, deposit, provision, sipMessage, Stack, startStack, uniqueUser, imAdmin } from '../support/stack-harness';
import { waitFor } from '../support/enabler-harness';

// test tariff im.deferred-retrieval: 5 per message + 1 per started KiB
const price = (octets: number) => 5 + Math.ceil(octets / 1024);

describe('deferred retrieval with sip.js over WebSocket', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(async () => {
    await s.close();
  });

  it('alice deposits 3 messages by SIP MESSAGE; bob retrieves them in order with CPIM headers, charged exactly', async () => {
    const bob = await provision(s, uniqueUser('bob'), 1000);
    const alice = await provision(s, uniqueUser('alice'), 0);
    const texts = ['first: hello Bob', 'second: ünïcödé ✓', 'third: ' + 'x'.repeat(1500)];
    for (const t of texts) expect(await sipMessage(s, alice, 'secret-pw', bob, t)).toBe(202); // bob is offline: stored
    // sip.js as it is, asking for no advice of charge: the 200 OK is SDP only, as it always was
    const res = await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', expect: 3, timeoutMs: 10000, adviceOfCharge: false });
    expect(res.status).toBe(200);
    expect(res.answerContentType).toBe('application/sdp');
    expect(res.aocS).toBeUndefined();
    expect(res.aocE).toBeUndefined();
    expect(res.messages.map((m) => m.text)).toEqual(texts);
    for (const m of res.messages) {
      expect(m.from).toBe(alice);
      expect(m.to).toBe(bob);
      expect(Date.parse(m.dateTime!)).not.toBeNaN();
      expect(m.contentType).toBe('text/plain;charset=UTF-8');
    }
    const octets = texts.map((t) => Buffer.byteLength(t));
    const total = octets.reduce((a, o) => a + price(o), 0);
    // The three debits can use up the whole reservation before the BYE's release arrives: wait for the release
    // itself (its CDR), not for `reserved` to reach 0.
    const cdrs = await waitFor(async () => {
      const list = (await s.enabler!.cdrs.list({ subscriber: bob })).cdrs;
      return list.some((c) => c.type === 'release') ? list : undefined;
    }, 'the reservation released');
    const acct = await account(s, bob);
    expect(acct).toMatchObject({ balance: 1000 - total, reserved: 0 });
    const debits = cdrs.filter((c) => c.type === 'debit');
    expect(debits.map((d) => d.amount)).toEqual(octets.map(price));
    expect(debits.every((d) => d.outcome === 'delivered' && d.sessionId)).toBe(true);
    expect(cdrs.filter((c) => c.type === 'release')).toHaveLength(1);
    expect((await imAdmin(s, 'GET', `/v1/users/${encodeURIComponent(bob)}/deferred`)).json.messages).toEqual([]);
  });

  it('404 "No deferred messages" when nothing waits, and nothing is charged', async () => {
    const carol = await provision(s, uniqueUser('carol'), 100);
    const res = await retrieve({ sipWsUrl: s.sipWsUrl, aor: carol, password: 'secret-pw', timeoutMs: 5000 });
    expect(res).toMatchObject({ status: 404, reason: 'No deferred messages', endedBy: 'refused' });
    expect((await account(s, carol)).balance).toBe(100);
  });

  it('a wrong password is refused and retrieves nothing', async () => {
    const dave = await provision(s, uniqueUser('dave'), 100);
    await deposit(s, dave, 'sip:eve@example.com', 'secret');
    await expect(retrieve({ sipWsUrl: s.sipWsUrl, aor: dave, password: 'wrong', timeoutMs: 5000 })).rejects.toThrow(/REGISTER refused: 403/);
    const r = await retrieve({ sipWsUrl: s.sipWsUrl, aor: dave, password: 'wrong', register: false, timeoutMs: 5000 });
    expect(r.status).toBe(403);
    expect(r.messages).toEqual([]);
    expect((await imAdmin(s, 'GET', `/v1/users/${encodeURIComponent(dave)}/deferred`)).json.messages).toHaveLength(1);
  });
});
