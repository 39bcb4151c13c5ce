import { createHash, createHmac, randomBytes } from 'node:crypto';
import { DigestCrypto, DigestServer, ha1, parseDigest } from './digest-auth';

const crypto: DigestCrypto = {
  hash: (a, t) => createHash(a === 'MD5' ? 'md5' : 'sha256').update(t).digest('hex'),
  hmac: (k, t) => createHmac('sha256', k).update(t).digest('hex'),
  random: (n) => randomBytes(n).toString('hex'),
};

function answer(challenge: string, user: string, password: string, method: string, uri: string, nc = '00000001') {
  const p = parseDigest(challenge)!;
  const alg = p.algorithm as 'MD5' | 'SHA-256';
  const h1 = crypto.hash(alg, `${user}:${p.realm}:${password}`);
  const h2 = crypto.hash(alg, `${method}:${uri}`);
  const cnonce = 'c0ffee';
  const response = crypto.hash(alg, `${h1}:${p.nonce}:${nc}:${cnonce}:auth:${h2}`);
  return `Digest username="${user}", realm="${p.realm}", nonce="${p.nonce}", uri="${uri}", response="${response}", algorithm=${alg}, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

describe('digest authentication (RFC 3261 §22, RFC 8760)', () => {
  let now = 1_000_000;
  const server = new DigestServer({ realm: 'example.com', algorithms: ['MD5', 'SHA-256'], secret: 's3cret', nonceTtlMs: 60000, crypto, now: () => now });
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
    expect(await server.verify(auth, 'REGISTER', lookup)).toEqual({ ok: true, username: 'bob' });
    expect(await server.verify(auth, 'REGISTER', lookup)).toMatchObject({ ok: false, reason: 'replay' });
    const next = answer(ch, 'bob', 'pw', 'REGISTER', 'sip:example.com', '00000002');
    expect((await server.verify(next, 'REGISTER', lookup)).ok).toBe(true);
  });

  it('refuses a wrong password, an unknown user, a forged or stale nonce, another method', async () => {
    const ch = server.challenges()[0];
    expect(await server.verify(answer(ch, 'bob', 'nope', 'INVITE', 'sip:x'), 'INVITE', lookup)).toMatchObject({ reason: 'wrong-password' });
    expect(await server.verify(answer(ch, 'eve', 'pw', 'INVITE', 'sip:x'), 'INVITE', lookup)).toMatchObject({ reason: 'unknown-user' });
    const forged = answer(ch.replace(/nonce="[^"]+"/, 'nonce="abc.def.0123456789abcdef01234567"'), 'bob', 'pw', 'INVITE', 'sip:x');
    expect(await server.verify(forged, 'INVITE', lookup)).toMatchObject({ reason: 'bad-nonce' });
    expect(await server.verify(answer(ch, 'bob', 'pw', 'INVITE', 'sip:x'), 'BYE', lookup)).toMatchObject({ reason: 'wrong-password' });
    now += 61000;
    expect(await server.verify(answer(ch, 'bob', 'pw', 'INVITE', 'sip:x'), 'INVITE', lookup)).toMatchObject({ reason: 'stale', stale: true });
    expect(await server.verify(undefined, 'INVITE', lookup)).toMatchObject({ reason: 'missing' });
    expect(await server.verify('Basic Ym9iOnB3', 'INVITE', lookup)).toMatchObject({ reason: 'malformed' });
  });
});
