/**
 * IMDN receipts in a running im-server (real Redis, NATS, enabler, SIP front): the expiry sweeper sends `failed`
 * to a registered UDP sender for an expired message that asked `negative-delivery`, and stores one for an offline
 * sender as a free receipt; an IMDN deposited through the admin API (a recipient's `displayed`, passed on) is stored
 * as a receipt, not priced. `delivered` after a retrieval: a SIP MESSAGE to a sender registered with sip.js, once
 * per message; stored for an offline sender and delivered free in their next retrieval; a recipient's `displayed`
 * sent by SIP MESSAGE passes back to the sender, registered or not.
 */
import { buildImdn, parseImdn, unwrapCpim } from '@imc/msrp';
import { retrieve } from '../../apps/cli/src/retrieval-client';
import { waitFor } from '../support/enabler-harness';
import { account, imAdmin, provision, Stack, startStack, uniqueUser } from '../support/stack-harness';
import { phoneBinding, UdpPhone } from '../support/udp-phone';
import { SipJsPhone } from '../support/sipjs-phone';

describe('IMDN receipts in the running im-server', () => {
  let s: Stack;
  let phone: UdpPhone;
  beforeAll(async () => {
    s = await startStack({ im: { IM_EXPIRY_SWEEP_MS: '50' } });
    phone = new UdpPhone();
    await phone.start();
  });
  afterAll(async () => {
    await phone.close();
    await s?.close();
  });

  const longAgo = () => new Date(Date.now() - s.im.config.messageTtlSeconds * 1000 - 1000);

  it('failed on expiry: a SIP MESSAGE to a registered sender, a stored receipt for an offline one', async () => {
    const alice = await provision(s, uniqueUser('alice'), 100);
    const dora = await provision(s, uniqueUser('dora'), 100);
    const bob = await provision(s, uniqueUser('bob'), 100);
    await s.im.users.bind(alice, phoneBinding(alice, phone.port));
    const body = Buffer.from('never read');
    await s.im.store.deposit(bob, { from: alice, to: bob, contentType: 'text/plain', body, imdnMessageId: 'late-a', disposition: 'negative-delivery', receivedAt: longAgo() });
    await s.im.store.deposit(bob, { from: dora, to: bob, contentType: 'text/plain', body, imdnMessageId: 'late-d', disposition: 'positive-delivery, negative-delivery', receivedAt: longAgo() });

    const got = await waitFor(() => phone.got.find((m) => unwrapCpim(m.body)?.to === alice), 'the failed IMDN at alice', 8000, 20);
    expect(parseImdn(new TextDecoder().decode(unwrapCpim(got.body)!.body))).toMatchObject({ messageId: 'late-a', status: 'failed', recipient: bob });
    const [receipt] = await waitFor(async () => {
      const p = await s.im.store.pending(dora);
      return p.length ? p : undefined;
    }, 'the stored receipt for dora', 8000, 20);
    expect(receipt).toMatchObject({ from: bob, to: dora, contentType: 'message/imdn+xml', receipt: true });
    // the offline sender's mailbox holds a receipt, which is free: nothing to price
    const me = await fetch(`http://127.0.0.1:${s.im.httpPort}/v1/me/deferred`, { headers: { authorization: `Basic ${Buffer.from(`${dora.slice(4, dora.indexOf('@'))}:secret-pw`).toString('base64')}` } });
    expect(await me.json()).toMatchObject({ count: 0, price: 0, receipts: 1 });
  });

  it('an IMDN deposited through the admin API is stored as a receipt', async () => {
    const carl = await provision(s, uniqueUser('carl'), 100);
    const cpim = 'From: <sip:bob@example.com>\r\nTo: <' + carl + '>\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: disp-1\r\nDateTime: 2026-01-01T00:00:00Z\r\n\r\nContent-Type: message/imdn+xml\r\nContent-Disposition: notification\r\n\r\n<imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>m-1</message-id><datetime>2026-01-01T00:00:00Z</datetime><display-notification><status><displayed/></status></display-notification></imdn>';
    const r = await imAdmin(s, 'POST', `/v1/users/${encodeURIComponent(carl)}/deferred`, { from: 'sip:bob@example.com', contentType: 'message/cpim', text: cpim });
    expect(r.status).toBe(201);
    expect(await s.im.store.pending(carl)).toEqual([expect.objectContaining({ id: r.json.id, receipt: true, imdnMessageId: 'disp-1' })]);
  });

  describe('delivered after a retrieval, displayed passed back', () => {
    const phones: SipJsPhone[] = [];
    afterAll(() => Promise.all(phones.map((p) => p.stop())));
    const phone = async (aor: string, register: boolean) => {
      const p = await SipJsPhone.start(s.sipWsUrl, aor, 'secret-pw', register);
      phones.push(p);
      return p;
    };
    const asking = (from: string, to: string, id: string, text: string) =>
      `From: <${from}>\r\nTo: <${to}>\r\nDateTime: ${new Date().toISOString()}\r\nNS: imdn <urn:ietf:params:imdn>\r\n` +
      `imdn.Message-ID: ${id}\r\nimdn.Disposition-Notification: positive-delivery, display\r\n\r\nContent-Type: text/plain\r\n\r\n${text}`;
    const displayed = (from: string, to: string, id: string, original: string) =>
      `From: <${from}>\r\nTo: <${to}>\r\nDateTime: ${new Date().toISOString()}\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: ${id}\r\n\r\n` +
      `Content-Type: message/imdn+xml\r\nContent-Disposition: notification\r\n\r\n` +
      buildImdn({ messageId: original, dateTime: new Date().toISOString(), status: 'displayed', recipient: from });
    /** The IMDNs a phone received, by the message they name. */
    const imdnsAt = (p: SipJsPhone, original: string) =>
      p.got
        .map((m) => unwrapCpim(new TextEncoder().encode(m.body)))
        .flatMap((c) => (c ? [parseImdn(new TextDecoder().decode(c.body))] : []))
        .filter((i) => i?.messageId === original);

    it('to a registered sender: one SIP MESSAGE with the delivered IMDN naming the original, even on a replay', async () => {
      const alice = await provision(s, uniqueUser('alice'), 100);
      const bob = await provision(s, uniqueUser('bob'), 100);
      const a = await phone(alice, true);
      const id = `orig-${uniqueUser('m')}`;
      expect(await a.send(bob, asking(alice, bob, id, 'did you get this?'), 'message/cpim')).toBe(202); // bob offline: stored
      const [meta] = await s.im.store.pending(bob);
      const r = await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', expect: 1, timeoutMs: 10000 });
      // the stored CPIM (with alice's IMDN request) is delivered inside the server's CPIM envelope
      expect(r.messages.map((m) => m.contentType)).toEqual(['message/cpim']);
      expect(new TextDecoder().decode(unwrapCpim(new TextEncoder().encode(r.messages[0].text))!.body)).toBe('did you get this?');
      await waitFor(() => imdnsAt(a, id).length > 0 || undefined, 'the delivered IMDN at alice', 8000, 20);
      const got = a.got.find((m) => unwrapCpim(new TextEncoder().encode(m.body))?.contentType === 'message/imdn+xml')!;
      expect(got.contentType).toBe('message/cpim');
      const cpim = unwrapCpim(new TextEncoder().encode(got.body))!;
      expect([cpim.from, cpim.to, cpim.dispositionNotification]).toEqual([bob, alice, undefined]);
      expect(imdnsAt(a, id)).toEqual([{ messageId: id, dateTime: meta.receivedAt, status: 'delivered', recipient: bob }]);

      // a replay of the same delivery (a second replica, a redelivery) sends nothing more
      expect(await s.im.receipts.delivered(meta)).toBe('already-sent');
      // a second message and retrieval: its own receipt arrives, and still only one for the first
      const id2 = `orig-${uniqueUser('m')}`;
      expect(await a.send(bob, asking(alice, bob, id2, 'and this?'), 'message/cpim')).toBe(202);
      await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', expect: 1, timeoutMs: 10000 });
      await waitFor(() => imdnsAt(a, id2).length > 0 || undefined, 'the second delivered IMDN', 8000, 20);
      expect(imdnsAt(a, id)).toHaveLength(1);
      expect(imdnsAt(a, id2)).toHaveLength(1);

      // bob reads it: his client's own displayed IMDN, sent by SIP MESSAGE, is relayed to registered alice as it is
      const b = await phone(bob, false);
      expect(await b.send(alice, displayed(bob, alice, `disp-${uniqueUser('d')}`, id), 'message/cpim')).toBe(200);
      await waitFor(() => imdnsAt(a, id).some((i) => i?.status === 'displayed') || undefined, 'the displayed IMDN at alice', 8000, 20);
    });

    it('to an offline sender: stored, delivered in their next retrieval and not charged; displayed stored the same way', async () => {
      const dora = await provision(s, uniqueUser('dora'), 100);
      const bob = await provision(s, uniqueUser('bob'), 100);
      const carol = await provision(s, uniqueUser('carol'), 100);
      const d = await phone(dora, false); // sends, never registers: dora is offline
      const id = `orig-${uniqueUser('m')}`;
      expect(await d.send(bob, asking(dora, bob, id, 'ping'), 'message/cpim')).toBe(202);
      await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', expect: 1, timeoutMs: 10000 });
      await waitFor(async () => (await s.im.store.pending(dora)).length === 1 || undefined, 'the stored delivered receipt', 8000, 20);
      // bob's client says it was read: a SIP MESSAGE to offline dora, stored as a receipt too
      const b = await phone(bob, false);
      expect(await b.send(dora, displayed(bob, dora, `disp-${uniqueUser('d')}`, id), 'message/cpim')).toBe(202);
      // and one real message waits for dora beside the two receipts
      const c = await phone(carol, false);
      expect(await c.send(dora, 'lunch?', 'text/plain')).toBe(202);
      const waiting = await s.im.store.pending(dora);
      expect(waiting.map((m) => !!m.receipt)).toEqual([true, true, false]);

      const r = await retrieve({ sipWsUrl: s.sipWsUrl, aor: dora, password: 'secret-pw', expect: 3, timeoutMs: 10000 });
      expect(r.status).toBe(200);
      expect(r.messages.map((m) => m.imdn?.status ?? m.text)).toEqual(['delivered', 'displayed', 'lunch?']);
      expect(r.messages.slice(0, 2).map((m) => [m.contentType, m.imdn?.messageId, m.from])).toEqual([
        ['message/imdn+xml', id, bob],
        ['message/imdn+xml', id, bob],
      ]);
      // only the message is priced and charged: one debit CDR, 6 cents; the receipts cost nothing
      expect(r.aocS).toMatchObject({ amount: { units: 6 } });
      const cdrs = await waitFor(async () => {
        const list = (await s.enabler!.cdrs.list({ subscriber: dora })).cdrs;
        return list.some((x) => x.type === 'release') ? list : undefined;
      }, 'dora settled', 8000, 20);
      expect(cdrs.filter((x) => x.type === 'debit').map((x) => x.itemId)).toEqual([waiting[2].id]);
      expect(await account(s, dora)).toMatchObject({ balance: 94, reserved: 0 });
      expect(await s.im.store.pending(dora)).toEqual([]);
    });

    it('a mailbox of receipts only: retrieved free, no reservation at all', async () => {
      const erin = await provision(s, uniqueUser('erin'), 0); // no credit: receipts need none
      const bob = await provision(s, uniqueUser('bob'), 100);
      const e = await phone(erin, false);
      const id = `orig-${uniqueUser('m')}`;
      expect(await e.send(bob, asking(erin, bob, id, 'hello'), 'message/cpim')).toBe(202);
      await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', expect: 1, timeoutMs: 10000 });
      await waitFor(async () => (await s.im.store.pending(erin)).length === 1 || undefined, 'the stored receipt', 8000, 20);
      const r = await retrieve({ sipWsUrl: s.sipWsUrl, aor: erin, password: 'secret-pw', expect: 1, timeoutMs: 10000 });
      expect(r.status).toBe(200);
      expect(r.messages.map((m) => m.imdn)).toEqual([expect.objectContaining({ messageId: id, status: 'delivered' })]);
      expect(r.answerContentType).toBe('application/sdp'); // nothing priced
      expect((await s.enabler!.cdrs.list({ subscriber: erin })).cdrs).toEqual([]);
      expect(await s.im.store.pending(erin)).toEqual([]);
    });
  });
});
