import { createHash, createHmac, randomBytes } from 'node:crypto';
import { digestUriMatches, DigestCrypto, DigestServer, ha1, MemoryNonceCounts, parseDigest } from './digest-auth';

const crypto: DigestCrypto = {
  hash: (a, t) => createHash(a === 'MD5' ? 'md5' : 'sha256').update(t).digest('hex'),
  hmac: (k, t) => createHmac('sha256', k).update(t).digest('hex'),
  random: (n) => randomBytes(n).toString('hex'),
};

function answer(challenge: string, user: string, password: string, method: string, uri: string, nc = '00000001', qop = true) {
  const p = parseDigest(challenge)!;
  const alg = p.algorithm as 'MD5' | 'SHA-256';
  const h1 = crypto.hash(alg, `${user}:${p.realm}:${password}`);
  const h2 = crypto.hash(alg, `${method}:${uri}`);
  const cnonce = 'c0ffee';
  if (!qop) return `Digest username="${user}", realm="${p.realm}", nonce="${p.nonce}", uri="${uri}", response="${crypto.hash(alg, `${h1}:${p.nonce}:${h2}`)}", algorithm=${alg}`;
  const response = crypto.hash(alg, `${h1}:${p.nonce}:${nc}:${cnonce}:auth:${h2}`);
  return `Digest username="${user}", realm="${p.realm}", nonce="${p.nonce}", uri="${uri}", response="${response}", algorithm=${alg}, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

describe('digest authentication (RFC 3261 §22, RFC 8760)', () => {
  let now = 1_000_000;
  const options = { realm: 'example.com', algorithms: ['MD5', 'SHA-256'] as ('MD5' | 'SHA-256')[], secret: 's3cret', nonceTtlMs: 60000, crypto, now: () => now };
  const server = new DigestServer({ ...options, nonceCounts: new MemoryNonceCounts(() => now) });
  const INVITE = (uri = 'sip:x') => ({ method: 'INVITE', uri });
  const store = { MD5: ha1(crypto, 'MD5', 'bob', 'example.com', 'pw'), 'SHA-256': ha1(crypto, 'SHA-256', 'bob', 'example.com', 'pw') };
  const lookup = async (u: string, a: 'MD5' | 'SHA-256') => (u === 'bob' ? store[a] : undefined);

  it('challenges once per algorithm, in the configured order, the first repeated last for sip.js', () => {
    const c = server.challenges();
    expect(c.map((x) => parseDigest(x)!.algorithm)).toEqual(['MD5', 'SHA-256', 'MD5']);
    expect(parseDigest(c[0])).toMatchObject({ realm: 'example.com', qop: 'auth' });
  });

  it.each(['MD5', 'SHA-256'] as const)('accepts a correct %s answer, then refuses its replay', async (alg) => {
    const ch = server.challenges().find((c) => c.includes(`algorithm=${alg}`))!;
    const auth = answer(ch, 'bob', 'pw', 'REGISTER', 'sip:example.com');
    expect(await server.verify(auth, { method: 'REGISTER', uri: 'sip:example.com' }, lookup)).toEqual({ ok: true, username: 'bob' });
    expect(await server.verify(auth, { method: 'REGISTER', uri: 'sip:example.com' }, lookup)).toMatchObject({ ok: false, reason: 'replay' });
    const next = answer(ch, 'bob', 'pw', 'REGISTER', 'sip:example.com', '00000002');
    expect((await server.verify(next, { method: 'REGISTER', uri: 'sip:example.com' }, lookup)).ok).toBe(true);
  });

  it('refuses a wrong password, an unknown user, a forged or stale nonce, another method', async () => {
    const ch = server.challenges()[0];
    expect(await server.verify(answer(ch, 'bob', 'nope', 'INVITE', 'sip:x'), INVITE(), lookup)).toMatchObject({ reason: 'wrong-password' });
    expect(await server.verify(answer(ch, 'eve', 'pw', 'INVITE', 'sip:x'), INVITE(), lookup)).toMatchObject({ reason: 'unknown-user' });
    const forged = answer(ch.replace(/nonce="[^"]+"/, 'nonce="abc.def.0123456789abcdef01234567"'), 'bob', 'pw', 'INVITE', 'sip:x');
    expect(await server.verify(forged, INVITE(), lookup)).toMatchObject({ reason: 'bad-nonce' });
    expect(await server.verify(answer(ch, 'bob', 'pw', 'INVITE', 'sip:x'), { method: 'BYE', uri: 'sip:x' }, lookup)).toMatchObject({ reason: 'wrong-password' });
    now += 61000;
    // RFC 2617 §3.2.1: stale=TRUE only when the digest was right for the expired nonce
    expect(await server.verify(answer(ch, 'bob', 'pw', 'INVITE', 'sip:x'), INVITE(), lookup)).toMatchObject({ reason: 'stale', stale: true });
    const wrongOnStale = await server.verify(answer(ch, 'bob', 'nope', 'INVITE', 'sip:x'), INVITE(), lookup);
    expect(wrongOnStale).toMatchObject({ reason: 'wrong-password' });
    expect(wrongOnStale).not.toHaveProperty('stale');
    expect(await server.verify(undefined, INVITE(), lookup)).toMatchObject({ reason: 'missing' });
    expect(await server.verify('Basic Ym9iOnB3', INVITE(), lookup)).toMatchObject({ reason: 'malformed' });
  });

  describe('the digest uri must designate the Request-URI (RFC 2617 §3.2.2.5, RFC 3261 §19.1.4)', () => {
    it('refuses an Authorization computed for another Request-URI, even with the right password', async () => {
      const ch = server.challenges()[0];
      const forOther = answer(ch, 'bob', 'pw', 'INVITE', 'sip:alice@example.com');
      expect(await server.verify(forOther, INVITE('sip:deferred@example.com'), lookup)).toMatchObject({ ok: false, reason: 'uri-mismatch', username: 'bob' });
      // the same credentials for the right URI still work (the refusal recorded no nonce-count)
      expect(await server.verify(answer(ch, 'bob', 'pw', 'INVITE', 'sip:deferred@example.com'), INVITE('sip:deferred@example.com'), lookup)).toEqual({ ok: true, username: 'bob' });
    });

    it.each([
      ['sip:deferred@example.com', 'sip:deferred@example.com', true],
      ['sip:deferred@EXAMPLE.com', 'sip:deferred@example.com', true],
      ['sip:deferred@example.com;transport=TCP', 'sip:deferred@example.com;transport=tcp', true],
      ['sip:deferred@example.com;lr;foo=1', 'sip:deferred@example.com;foo=1', true],
      ['sip:%64eferred@example.com', 'sip:deferred@example.com', true],
      ['sip:Deferred@example.com', 'sip:deferred@example.com', false],
      ['sip:deferred@example.com:5060', 'sip:deferred@example.com', false],
      ['sips:deferred@example.com', 'sip:deferred@example.com', false],
      ['sip:deferred@example.com;transport=tcp', 'sip:deferred@example.com', false],
      ['sip:deferred@example.com;foo=1', 'sip:deferred@example.com;foo=2', false],
      ['sip:deferred@example.com?subject=x', 'sip:deferred@example.com', false],
      ['sip:alice@example.com', 'sip:deferred@example.com', false],
      ['not a uri', 'sip:deferred@example.com', false],
    ])('%s vs Request-URI %s → %s', (uri, requestUri, same) => {
      expect(digestUriMatches(uri, requestUri)).toBe(same);
    });
  });

  describe('replays (RFC 2617 §3.2.2 nc)', () => {
    it('a second server sharing the nonce-count store refuses the captured Authorization; the client goes on with nc+1', async () => {
      const shared = new MemoryNonceCounts(() => now);
      const a = new DigestServer({ ...options, nonceCounts: shared });
      const b = new DigestServer({ ...options, nonceCounts: shared });
      const ch = a.challenges()[0];
      const captured = answer(ch, 'bob', 'pw', 'INVITE', 'sip:x');
      expect(await a.verify(captured, INVITE(), lookup)).toEqual({ ok: true, username: 'bob' });
      expect(await b.verify(captured, INVITE(), lookup)).toMatchObject({ ok: false, reason: 'replay' });
      expect(await b.verify(answer(ch, 'bob', 'pw', 'INVITE', 'sip:x', '00000002'), INVITE(), lookup)).toEqual({ ok: true, username: 'bob' });
      expect(await a.verify(answer(ch, 'bob', 'pw', 'INVITE', 'sip:x', '00000002'), INVITE(), lookup)).toMatchObject({ reason: 'replay' });
    });

    it('without qop (RFC 2069) a nonce is good once', async () => {
      const ch = server.challenges()[0];
      const once = answer(ch, 'bob', 'pw', 'INVITE', 'sip:x', undefined, false);
      expect(await server.verify(once, INVITE(), lookup)).toEqual({ ok: true, username: 'bob' });
      expect(await server.verify(once, INVITE(), lookup)).toMatchObject({ reason: 'replay' });
    });

    it('a wrong guess does not record a nonce-count (it cannot burn the real client\'s next count)', async () => {
      const ch = server.challenges()[0];
      expect(await server.verify(answer(ch, 'bob', 'guess', 'INVITE', 'sip:x', '00000009'), INVITE(), lookup)).toMatchObject({ reason: 'wrong-password' });
      expect(await server.verify(answer(ch, 'bob', 'pw', 'INVITE', 'sip:x', '00000001'), INVITE(), lookup)).toEqual({ ok: true, username: 'bob' });
    });

    it('asks the store to keep a count longer than the nonce lives', async () => {
      const ttls: number[] = [];
      const s = new DigestServer({ ...options, nonceCounts: { advance: async (_n, _u, _nc, ttl) => (ttls.push(ttl), true) } });
      expect((await s.verify(answer(s.challenges()[0], 'bob', 'pw', 'INVITE', 'sip:x'), INVITE(), lookup)).ok).toBe(true);
      expect(ttls[0]).toBeGreaterThan(options.nonceTtlMs);
    });
  });
});
