/**
 * IMDN receipts in a running im-server (real Redis, NATS, enabler, SIP front): the expiry sweeper sends `failed`
 * to a registered UDP sender for an expired message that asked `negative-delivery`, and stores one for an offline
 * sender as a free receipt; an IMDN deposited through the admin API (a recipient's `displayed`, passed on) is stored
 * as a receipt, not priced. The `delivered` path needs the retrieval session's call (not wired yet): see
 * test/integration/receipts.test.ts for it.
 */
import { parseImdn, unwrapCpim } from '@imc/msrp';
import { waitFor } from '../support/enabler-harness';
import { imAdmin, provision, Stack, startStack, uniqueUser } from '../support/stack-harness';
import { phoneBinding, UdpPhone } from '../support/udp-phone';

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
});
