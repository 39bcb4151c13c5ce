/** The pager handler on the real Redis (the suite's REDIS_URL, a key prefix of its own) and a fake of the front's port. */
import { randomBytes } from 'node:crypto';
import { DigestServer } from '@imc/sip';
import { createRedis, type RedisClient } from '@imc/runtime';
import { loadImServerConfig, type ImServerConfig } from '../../config';
import { DeferredStore } from '../../store/deferred-store';
import { UserStore } from '../../store/user-store';
import { ImMetrics } from '../../observability/im-metrics';
import { AuthKeys } from '../../auth/auth-keys';
import { LoginThrottle } from '../../auth/login-throttle';
import { RedisNonceCounts } from '../../auth/redis-nonce-counts';
import { SipAuthenticator } from '../../auth/sip-authenticator';
import { nodeDigestCrypto } from '../../auth/node-digest-crypto';
import { FakeSipFront, fakeFlow, request, serverTx } from '../test-fakes';
import { PagerHandler } from './pager.handler';

const prefix = `t${randomBytes(4).toString('hex')}:`;
let redis: RedisClient;
let store: DeferredStore;
let users: UserStore;
const touched = new Set<string>();

function pager(env: Record<string, string> = {}) {
  const config: ImServerConfig = loadImServerConfig({ NODE_ENV: 'development', SIP_AUTH: 'none', REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'silent', ...env });
  const keys = new AuthKeys(prefix);
  const digest = new DigestServer({ realm: config.domain, algorithms: config.digestAlgorithms, secret: config.digestSecret, nonceTtlMs: config.nonceTtlMs, crypto: nodeDigestCrypto, now: () => Date.now(), nonceCounts: new RedisNonceCounts(redis, keys) });
  const metrics = new ImMetrics(false);
  const auth = new SipAuthenticator(config, digest, new LoginThrottle(redis, keys, config.authThrottle), users, metrics, () => undefined);
  const front = new FakeSipFront();
  const notified: string[] = [];
  const handler = new PagerHandler(config, front, store, users, metrics, auth, { notifyWaiting: async (aor) => void notified.push(aor) });
  return { handler, front, notified };
}

function user(): string {
  const aor = `sip:u${randomBytes(4).toString('hex')}@example.com`;
  touched.add(aor);
  return aor;
}

const cpim = (inner: string, imdn = 'imdn.Message-ID: 34jk324j\r\nimdn.Disposition-Notification: positive-delivery, display\r\n') =>
  `From: <sip:alice@example.com>\r\nTo: <sip:bob@example.com>\r\nDateTime: 2026-12-05T10:00:00Z\r\nNS: imdn <urn:ietf:params:imdn>\r\n${imdn}\r\nContent-Type: text/plain\r\n\r\n${inner}`;

beforeAll(async () => {
  redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  store = new DeferredStore(redis, prefix, { maxMessageBytes: 1024, userMaxMessages: 100, userMaxBytes: 100000, ttlSeconds: 600 });
  users = new UserStore(redis, prefix);
});

afterAll(async () => {
  for (const aor of touched) {
    for (const id of await store.pendingIds(aor)) await store.delete(aor, id);
    await users.unbind(aor);
  }
  redis.disconnect();
});

describe('PagerHandler: MESSAGE deposit (RFC 3428)', () => {
  it('stores a message for a user who is not registered: 202, the sender from the identity, the IMDN request from the CPIM headers; the watchers are told', async () => {
    const { handler, notified } = pager();
    const bob = user();
    const tx = serverTx(request('MESSAGE', bob, { 'Content-Type': 'message/cpim' }, cpim('hello')));
    await handler.handle(tx);
    expect(tx.answers).toMatchObject([{ status: 202, reason: 'Accepted' }]);
    const [m] = await store.pending(bob);
    expect(m).toMatchObject({ from: 'sip:alice@example.com', to: bob, contentType: 'message/cpim', imdnMessageId: '34jk324j', disposition: 'positive-delivery, display' });
    expect((await store.body(bob, m.id))?.toString()).toBe(cpim('hello'));
    expect(notified).toEqual([bob]);
  });

  it('the IMDN request is read from the CPIM header section only: a look-alike line in the inner body is content, not a header', async () => {
    const { handler } = pager();
    const bob = user();
    await handler.handle(serverTx(request('MESSAGE', bob, { 'Content-Type': 'message/cpim' }, cpim('imdn.Message-ID: not-a-header\r\n', ''))));
    const [m] = await store.pending(bob);
    expect(m.imdnMessageId).toBeUndefined();
    expect(m.disposition).toBeUndefined();
  });

  it('a recipient\'s own IMDN (displayed) to an offline sender is stored as a receipt: free, asking for nothing', async () => {
    const { handler } = pager();
    const alice = user();
    const xml = '<imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>orig-1</message-id><datetime>2026-12-05T10:00:00Z</datetime><display-notification><status><displayed/></status></display-notification></imdn>';
    const body = cpim('', 'imdn.Message-ID: disp-9\r\n').replace('Content-Type: text/plain\r\n\r\n', `Content-Type: message/imdn+xml\r\nContent-Disposition: notification\r\n\r\n${xml}`);
    const tx = serverTx(request('MESSAGE', alice, { 'Content-Type': 'message/cpim' }, body));
    await handler.handle(tx);
    expect(tx.answers).toMatchObject([{ status: 202 }]);
    const [m] = await store.pending(alice);
    expect(m).toMatchObject({ receipt: true, imdnMessageId: 'disp-9', contentType: 'message/cpim' });
    expect(m.disposition).toBeUndefined();
    // a bare message/imdn+xml deposit too
    await handler.handle(serverTx(request('MESSAGE', alice, { 'Content-Type': 'message/imdn+xml' }, xml)));
    expect((await store.pending(alice)).map((x) => x.receipt)).toEqual([true, true]);
  });

  it('relays it to a registered contact over the flow it registered on; a 2xx from there is the answer, and nothing is stored', async () => {
    const { handler, front, notified } = pager();
    const bob = user();
    const flow = fakeFlow('TCP', 'bob-flow');
    front.flows.set('bob-flow', flow);
    await users.bind(bob, { contact: 'sip:bob@192.0.2.20:5070;transport=tcp', expiresAt: Date.now() + 60000, flowId: 'bob-flow', transport: 'TCP', address: '192.0.2.20', port: 5070 });
    const tx = serverTx(request('MESSAGE', bob, { 'Content-Type': 'text/plain' }, 'now'));
    await handler.handle(tx);
    expect(tx.answers).toMatchObject([{ status: 200 }]);
    expect(front.sent).toHaveLength(1);
    const { req, flow: on } = front.sent[0];
    expect(on).toBe(flow);
    expect(req.method).toBe('MESSAGE');
    expect(req.uri).toBe('sip:bob@192.0.2.20:5070;transport=tcp');
    expect(req.get('from')).toMatch(/^<sip:alice@example\.com>;tag=\S+$/);
    expect(req.get('to')).toBe(`<${bob}>`);
    expect(req.get('content-type')).toBe('text/plain');
    expect(req.topVia).toMatchObject({ host: 'im.example.com', port: 5060 });
    expect(new TextDecoder().decode(req.body)).toBe('now');
    expect(await store.count(bob)).toBe(0);
    expect(notified).toEqual([]);
  });

  it('stores it when the registered contact does not answer, or its connection is gone', async () => {
    const { handler, front, notified } = pager();
    const bob = user();
    front.flows.set('bob-flow', fakeFlow('TCP', 'bob-flow'));
    front.status = 'timeout';
    await users.bind(bob, { contact: 'sip:bob@192.0.2.20:5070', expiresAt: Date.now() + 60000, flowId: 'bob-flow', transport: 'TCP', address: '192.0.2.20', port: 5070 });
    await users.bind(bob, { contact: 'sip:bob@192.0.2.21:5070', expiresAt: Date.now() + 60000, flowId: 'gone', transport: 'TCP', address: '192.0.2.21', port: 5070 });
    const tx = serverTx(request('MESSAGE', bob, { 'Content-Type': 'text/plain' }, 'later'));
    await handler.handle(tx);
    expect(front.sent).toHaveLength(1);
    expect(tx.answers).toMatchObject([{ status: 202 }]);
    expect(await store.count(bob)).toBe(1);
    expect(notified).toEqual([bob]);
  });

  it.each([
    ['another domain', 404, 'sip:bob@elsewhere.net', { 'Content-Type': 'text/plain' }, 'x'],
    ['no body', 415, 'sip:bob@example.com', { 'Content-Type': 'text/plain' }, ''],
    ['no Content-Type', 415, 'sip:bob@example.com', {}, 'x'],
    ['Max-Forwards 0', 483, 'sip:bob@example.com', { 'Content-Type': 'text/plain', 'Max-Forwards': '0' }, 'x'],
    ['a body over MAX_MESSAGE_BYTES', 513, 'sip:bob@example.com', { 'Content-Type': 'text/plain' }, 'x'.repeat(2048)],
  ])('%s → %d, nothing stored', async (_n, status, uri, headers, body) => {
    const { handler } = pager({ MAX_MESSAGE_BYTES: '1024' });
    const tx = serverTx(request('MESSAGE', uri, headers, body));
    await handler.handle(tx);
    expect(tx.answers).toMatchObject([{ status }]);
    expect(await store.count('sip:bob@example.com')).toBe(0);
  });

  it('with digest deposits, an unauthenticated MESSAGE is challenged by the authenticator (401) and nothing is stored', async () => {
    const { handler } = pager({ SIP_AUTH: 'digest' });
    const bob = user();
    const tx = serverTx(request('MESSAGE', bob, { 'Content-Type': 'text/plain' }, 'x'));
    await handler.handle(tx);
    expect(tx.answers).toMatchObject([{ status: 401 }]);
    expect(tx.answers[0].headers.some(([k, v]) => k === 'WWW-Authenticate' && v.startsWith('Digest '))).toBe(true);
    expect(await store.count(bob)).toBe(0);
  });
});
