/** Message-summary subscriptions on the real Redis (the suite's REDIS_URL, a key prefix of its own) and a fake of the front's port. */
import { randomBytes } from 'node:crypto';
import { createRedis, type RedisClient } from '@imc/runtime';
import { loadImServerConfig } from '../../config';
import { DeferredStore } from '../../store/deferred-store';
import { ImMetrics } from '../../observability/im-metrics';
import { SipAuthenticator } from '../../auth/sip-authenticator';
import { FakeSipFront, fakeFlow, request, serverTx } from '../test-fakes';
import { MessageSummaryHandler } from './message-summary.handler';

const prefix = `t${randomBytes(4).toString('hex')}:`;
const alice = `sip:a${randomBytes(4).toString('hex')}@example.com`;
let redis: RedisClient;
let store: DeferredStore;

function summary() {
  const config = loadImServerConfig({ NODE_ENV: 'development', SIP_AUTH: 'none', REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'silent' });
  // with SIP_AUTH=none the authenticator reads From and touches neither the digest check nor Redis
  const auth = new SipAuthenticator(config, undefined as never, undefined as never, undefined as never, new ImMetrics(false), () => undefined);
  const front = new FakeSipFront();
  return { handler: new MessageSummaryHandler(config, front, store, auth), front };
}

const subscribe = (uri: string, headers: Record<string, string> = {}) => request('SUBSCRIBE', uri, { From: `<${alice}>;tag=s1`, Event: 'message-summary', Contact: '<sip:alice@192.0.2.9:5060>', ...headers });
const text = (b: Uint8Array) => new TextDecoder().decode(b);

beforeAll(() => {
  redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  store = new DeferredStore(redis, prefix, { maxMessageBytes: 1024, userMaxMessages: 100, userMaxBytes: 100000, ttlSeconds: 600 });
});

afterAll(async () => {
  for (const id of await store.pendingIds(alice)) await store.delete(alice, id);
  redis.disconnect();
});

describe('MessageSummaryHandler (RFC 3842)', () => {
  it('SUBSCRIBE to one’s own mailbox: 200 with a To tag, Expires and Contact, then a NOTIFY of the count at once, and one whenever it changes', async () => {
    const { handler, front } = summary();
    const flow = fakeFlow('TCP');
    const tx = serverTx(subscribe(alice, { Expires: '600' }), flow);
    await handler.handle(tx);
    expect(tx.answers).toHaveLength(1);
    expect(tx.answers[0]).toMatchObject({ status: 200, headers: [['Expires', '600'], ['Contact', '<sip:127.0.0.1:5060;transport=tcp>']] });
    expect(tx.answers[0].toTag).toMatch(/\S+/);
    expect(handler.sizes()).toEqual({ subscriptions: 1 });

    await front.sentCount(1);
    const first = front.sent[0];
    expect(first.flow).toBe(flow);
    expect(first.req.method).toBe('NOTIFY');
    expect(first.req.uri).toBe('sip:alice@192.0.2.9:5060');
    expect(first.req.get('event')).toBe('message-summary');
    expect(first.req.get('subscription-state')).toMatch(/^active;expires=(600|599)$/);
    expect(first.req.get('content-type')).toBe('application/simple-message-summary');
    expect(text(first.req.body)).toBe(`Messages-Waiting: no\r\nMessage-Account: ${alice}\r\nText-Message: 0/0\r\n`);

    await store.deposit(alice, { from: 'sip:bob@example.com', to: alice, contentType: 'text/plain', body: new TextEncoder().encode('hi') });
    await handler.notifyWaiting(alice);
    expect(front.sent).toHaveLength(2);
    expect(text(front.sent[1].req.body)).toBe(`Messages-Waiting: yes\r\nMessage-Account: ${alice}\r\nText-Message: 1/0\r\n`);
  });

  it('an in-dialog SUBSCRIBE with Expires 0 ends it: 200, a terminated NOTIFY, and nothing left to notify', async () => {
    const { handler, front } = summary();
    const tx = serverTx(subscribe(alice));
    await handler.handle(tx);
    await front.sentCount(1);
    const toTag = tx.answers[0].toTag!;
    const callId = tx.request.callId;
    const un = serverTx(subscribe('sip:im.example.com:5060', { To: `<${alice}>;tag=${toTag}`, 'Call-ID': callId, CSeq: '2 SUBSCRIBE', Expires: '0' }));
    await handler.handle(un);
    expect(un.answers).toMatchObject([{ status: 200, toTag, headers: [['Expires', '0'], expect.anything()] }]);
    await front.sentCount(2);
    expect(front.sent[1].req.get('subscription-state')).toBe('terminated;reason=timeout');
    expect(handler.sizes()).toEqual({ subscriptions: 0 });
    await handler.notifyWaiting(alice);
    expect(front.sent).toHaveLength(2);
  });

  it('another event package → 489 with Allow-Events; another user’s mailbox → 403; neither is kept', async () => {
    const { handler, front } = summary();
    const other = serverTx(subscribe(alice, { Event: 'presence' }));
    await handler.handle(other);
    expect(other.answers).toMatchObject([{ status: 489, headers: [['Allow-Events', 'message-summary']] }]);
    const foreign = serverTx(subscribe('sip:bob@example.com'));
    await handler.handle(foreign);
    expect(foreign.answers).toMatchObject([{ status: 403, headers: [['Warning', expect.stringMatching(/may only watch your own mailbox/)]] }]);
    expect(handler.sizes()).toEqual({ subscriptions: 0 });
    expect(front.sent).toEqual([]);
  });
});
