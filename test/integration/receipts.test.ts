/**
 * IMDN receipts (RFC 5438) back to the sender, on real Redis and a real SIP UDP socket as the registered sender:
 * `delivered` and `failed` only when asked, once per message across replicas, as a SIP MESSAGE to a registered
 * sender (CPIM-wrapped `message/imdn+xml`, RFC 5438 §7), stored free for an offline one; `failed` from the expiry
 * sweep. The SIP side is a small SipFrontPort over the real transaction layer and UDP transport (no SIP front).
 */
import { randomBytes } from 'node:crypto';
import { createRedis, RedisClient } from '@imc/runtime';
import { nodeRandom } from '@imc/msrp-node';
import { parseImdn, unwrapCpim } from '@imc/msrp';
import { parseSipMessage, SipResponse, systemClock, TransactionLayer } from '@imc/sip';
import { UdpSipTransport } from '@imc/sip-node';
import { DeferredStore } from '../../apps/im-server/src/store/deferred-store';
import { UserStore } from '../../apps/im-server/src/store/user-store';
import { ReceiptSender } from '../../apps/im-server/src/receipts/receipt-sender';
import { ReceiptService } from '../../apps/im-server/src/receipts/receipt.service';
import { receiptDepositOf } from '../../apps/im-server/src/receipts/imdn-receipt';
import { waitFor } from '../support/enabler-harness';
import { phoneBinding, UdpPhone } from '../support/udp-phone';

describe('ReceiptService (RFC 5438 delivered / failed)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}:`;
  const domain = 'example.com';
  let redis: RedisClient;
  let store: DeferredStore;
  let users: UserStore;
  let udp: UdpSipTransport;
  let layer: TransactionLayer;
  let phone: UdpPhone;
  const stored: string[] = [];
  const service = () =>
    new ReceiptService({
      redis,
      keyPrefix: prefix,
      domain,
      markerTtlSeconds: 60,
      users,
      store,
      sender: new ReceiptSender(
        {
          random: nodeRandom,
          viaFor: () => ({ transport: 'UDP', host: '127.0.0.1', port: udp.port }),
          send: async (req, flow) => {
            const out = await layer.sendRequest(req, { reliable: flow.reliable, send: (b) => flow.send(b) }).done;
            return out.kind === 'response' ? out.response.status : 'timeout';
          },
        },
        (b) => (b.transport === 'UDP' ? udp.flowTo(b.address, b.port) : undefined),
        '127.0.0.1',
      ),
      onStored: (aor) => stored.push(aor),
    });

  beforeAll(async () => {
    redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    store = new DeferredStore(redis, prefix, { maxMessageBytes: 65536, userMaxMessages: 100, userMaxBytes: 1 << 20, ttlSeconds: 3600 });
    users = new UserStore(redis, prefix);
    layer = new TransactionLayer(systemClock, { T1: 20, T2: 80, T4: 100 });
    udp = new UdpSipTransport();
    await udp.listen(0, '127.0.0.1');
    udp.onMessage((b) => {
      const p = parseSipMessage(b, { datagram: true });
      if (p.ok && p.message instanceof SipResponse) layer.receiveResponse(p.message);
    });
    phone = new UdpPhone();
    await phone.start();
  });
  afterAll(async () => {
    await phone.close();
    await udp.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  const user = (tag: string) => `sip:${tag}${randomBytes(3).toString('hex')}@${domain}`;
  const register = (aor: string, port = phone.port) => users.bind(aor, phoneBinding(aor, port));
  async function depositFrom(from: string, to: string, disposition: string, receivedAt?: Date) {
    const r = await store.deposit(to, { from, to, contentType: 'text/plain', body: Buffer.from('hello'), imdnMessageId: `id-${randomBytes(4).toString('hex')}`, disposition, receivedAt });
    if (!r.ok) throw new Error(r.reason);
    return (await store.pending(to)).find((m) => m.id === r.id)!;
  }

  it('delivered: a SIP MESSAGE to the registered sender, once — a second replica and a redelivery send nothing', async () => {
    const alice = user('alice');
    const bob = user('bob');
    await register(alice);
    const meta = await depositFrom(alice, bob, 'positive-delivery, display');
    const before = phone.got.length;
    expect(await service().delivered(meta)).toBe('sent');
    const msg = phone.got[before];
    expect(msg.method).toBe('MESSAGE');
    expect(msg.get('content-type')).toBe('message/cpim');
    expect(msg.get('from')).toMatch(new RegExp(`^<${bob}>;tag=`));
    const cpim = unwrapCpim(msg.body)!;
    expect(cpim.from).toBe(bob);
    expect(cpim.to).toBe(alice);
    expect(cpim.imdnMessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(cpim.dispositionNotification).toBeUndefined(); // an IMDN never asks for an IMDN
    expect(cpim.contentType).toBe('message/imdn+xml');
    expect(new TextDecoder().decode(cpim.inner)).toMatch(/^Content-Type: message\/imdn\+xml\r\nContent-Disposition: notification\r\n\r\n/);
    expect(parseImdn(new TextDecoder().decode(cpim.body))).toEqual({ messageId: meta.imdnMessageId, dateTime: meta.receivedAt, status: 'delivered', recipient: bob });
    // the same message again (a redelivery after a crash, another im-server instance): nothing more
    expect(await service().delivered(meta)).toBe('already-sent');
    expect(await service().failed(meta)).toBe('not-requested');
    expect(phone.got.length).toBe(before + 1);
  });

  it('only when asked: no disposition, another disposition, no Message-ID, a receipt, a sender of another domain', async () => {
    const alice = user('alice');
    const bob = user('bob');
    await register(alice);
    const s = service();
    expect(await s.delivered(await depositFrom(alice, bob, 'negative-delivery'))).toBe('not-requested');
    expect(await s.delivered(await depositFrom(alice, bob, ''))).toBe('not-requested');
    const noId = await depositFrom(alice, bob, 'positive-delivery');
    expect(await s.delivered({ ...noId, imdnMessageId: undefined })).toBe('not-requested');
    expect(await s.delivered({ ...noId, receipt: true })).toBe('not-requested');
    expect(await s.delivered(await depositFrom('sip:carol@elsewhere.net', bob, 'positive-delivery'))).toBe('foreign-sender');
  });

  it('an offline sender, or one whose phone refuses: stored as a free receipt in their mailbox, asking for nothing', async () => {
    const alice = user('alice');
    const bob = user('bob');
    const meta = await depositFrom(alice, bob, 'positive-delivery');
    expect(await service().delivered(meta)).toBe('stored');
    const [r] = await store.pending(alice);
    expect(r).toMatchObject({ from: bob, to: alice, contentType: 'message/imdn+xml', receipt: true });
    expect(r.disposition).toBeUndefined();
    expect(parseImdn((await store.body(alice, r.id))!.toString('utf8'))).toMatchObject({ messageId: meta.imdnMessageId, status: 'delivered' });
    expect(stored).toContain(alice);
    // a receipt never brings a receipt
    expect(await service().delivered(r)).toBe('not-requested');

    const refusing = new UdpPhone(480);
    await refusing.start();
    try {
      const dora = user('dora');
      await register(dora, refusing.port);
      expect(await service().delivered(await depositFrom(dora, bob, 'positive-delivery'))).toBe('stored');
      expect(refusing.got).toHaveLength(1);
      expect((await store.pending(dora))[0]).toMatchObject({ receipt: true, contentType: 'message/imdn+xml' });
    } finally {
      await refusing.close();
    }
  });

  it('failed: the expiry sweep sends it for an expired message that asked negative-delivery, once; a delivered one never', async () => {
    const alice = user('alice');
    const bob = user('bob');
    await register(alice);
    const longAgo = new Date(Date.now() - 3601_000); // received more than the TTL ago: already expired
    const expired = await store.deposit(bob, { from: alice, to: bob, contentType: 'text/plain', body: Buffer.from('too late'), imdnMessageId: 'exp-1', disposition: 'negative-delivery', receivedAt: longAgo });
    const delivered = await depositFrom(alice, bob, 'negative-delivery');
    expect(expired.ok).toBe(true);
    await store.delete(bob, delivered.id); // delivered: its watch goes with it
    const s = service();
    const outcomes: string[] = [];
    const before = phone.got.length;
    await store.sweepExpired(async (n) => void outcomes.push(await s.failed(n)));
    expect(outcomes).toEqual(['sent']);
    await waitFor(() => phone.got.length > before, 'the failed IMDN');
    const imdn = parseImdn(new TextDecoder().decode(unwrapCpim(phone.got[before].body)!.body))!;
    expect(imdn).toEqual({ messageId: 'exp-1', dateTime: longAgo.toISOString(), status: 'failed', recipient: bob });
    expect(await store.dueNotices(bob)).toEqual([]);
    // a second sweep has nothing left to say
    await store.sweepExpired(async (n) => void outcomes.push(await s.failed(n)));
    expect(outcomes).toEqual(['sent']);
    expect(phone.got.length).toBe(before + 1);
  });

  it('a notice whose handling threw stays on the due list for the next sweep', async () => {
    const alice = user('alice');
    const bob = user('bob');
    await store.deposit(bob, { from: alice, to: bob, contentType: 'text/plain', body: Buffer.from('x'), imdnMessageId: 'exp-2', disposition: 'negative-delivery', receivedAt: new Date(Date.now() - 3601_000) });
    await expect(store.sweepExpired(async () => Promise.reject(new Error('redis away')))).rejects.toThrow('redis away');
    expect((await store.dueNotices(bob)).map((d) => d.notice.imdnMessageId)).toEqual(['exp-2']);
    const seen: string[] = [];
    await store.sweepExpired(async (n) => void seen.push(n.imdnMessageId));
    expect(seen).toEqual(['exp-2']);
    expect(await store.dueNotices(bob)).toEqual([]);
  });

  it('receiptDepositOf: a recipient’s own IMDN (bare or in CPIM) is a receipt; a message is not', () => {
    const cpim = (inner: string) => new TextEncoder().encode(`From: <sip:b@example.com>\r\nTo: <sip:a@example.com>\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: d-1\r\n\r\n${inner}`);
    expect(receiptDepositOf('message/cpim', cpim('Content-Type: message/imdn+xml\r\nContent-Disposition: notification\r\n\r\n<imdn/>'))).toEqual({ receipt: true, imdnMessageId: 'd-1' });
    expect(receiptDepositOf('message/imdn+xml', new Uint8Array())).toEqual({ receipt: true });
    expect(receiptDepositOf('message/cpim', cpim('Content-Type: text/plain\r\n\r\nhi'))).toBeUndefined();
    expect(receiptDepositOf('text/plain', new TextEncoder().encode('message/imdn+xml'))).toBeUndefined();
  });
});
