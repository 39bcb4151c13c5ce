/**
 * Identity and access on the real services: the digest uri must be the Request-URI (RFC 2617 §3.2.2.5); a captured
 * Authorization replayed to a second replica or after a restart is refused while the real client goes on; wrong
 * passwords are throttled per source and per account over HTTP Basic and SIP digest without locking the real user
 * out for long, and counted in /metrics; a 10 KB subscriber is refused by every interface with the same message
 * (the configuration of the nonce key and the throttle: apps/im-server/src/config.spec.ts).
 * Other source addresses are 127.0.0.x: the whole 127/8 is on the loopback interface.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { request } from 'node:http';
import { parseDigest } from '@imc/sip';
import { startImServer, RunningImServer } from '../../apps/im-server/src/bootstrap';
import { admin, ch2ClientFor, common, waitFor } from '../support/enabler-harness';
import { imAdmin, imEnv, provision, Stack, startStack, uniqueUser } from '../support/stack-harness';

interface SipAnswer {
  status: number;
  reason: string;
  text: string;
  header(name: string): string | undefined;
  headers(name: string): string[];
}

/** One SIP request over UDP from `from`; resolves with the first final response. */
function sipUdp(port: number, text: string, from = '127.0.0.1'): Promise<SipAnswer> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error(`no final answer to ${text.split('\r\n')[0]}`));
    }, 5000);
    s.on('message', (m) => {
      const r = m.toString();
      const first = /^SIP\/2\.0 (\d{3}) (.*)$/m.exec(r);
      if (!first || first[1].startsWith('1')) return;
      clearTimeout(t);
      s.close();
      const all = (n: string) => [...r.matchAll(new RegExp(`^${n}: (.*)$`, 'gmi'))].map((x) => x[1].trim());
      resolve({ status: Number(first[1]), reason: first[2].trim(), text: r, header: (n) => all(n)[0], headers: all });
    });
    s.bind(0, from, () => s.send(text, port, '127.0.0.1'));
  });
}

/** An MSRP offer (RFC 4975 §8.5): with it, an authenticated retrieval INVITE for an empty mailbox gets 404. */
const SDP = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=message 9 TCP/MSRP *', 'a=accept-types:message/cpim text/plain', 'a=path:msrp://127.0.0.1:9/s1d;tcp', 'a=setup:active', ''].join('\r\n');

function sipRequest(method: string, uri: string, aor: string, extra = ''): string {
  const branch = `z9hG4bK${randomBytes(8).toString('hex')}`;
  const body = method === 'INVITE' ? SDP : '';
  return (
    `${method} ${uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=${branch};rport\r\nMax-Forwards: 70\r\n` +
    `From: <${aor}>;tag=${randomBytes(4).toString('hex')}\r\nTo: <${method === 'REGISTER' ? aor : uri}>\r\nCall-ID: ${randomBytes(8).toString('hex')}@test\r\n` +
    `CSeq: 1 ${method}\r\n${method === 'REGISTER' ? `Contact: <sip:${aor.slice(4, aor.indexOf('@'))}@127.0.0.1:9>\r\nExpires: 60\r\n` : ''}` +
    `${method === 'INVITE' ? 'Contact: <sip:client@127.0.0.1:9>\r\nContent-Type: application/sdp\r\n' : ''}${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** An Authorization answering `challenge` (MD5, qop=auth) as `user` for `method` `uri`. */
function authorization(challenge: string, user: string, password: string, method: string, uri: string, nc = 1): string {
  const p = parseDigest(challenge)!;
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  const ncHex = nc.toString(16).padStart(8, '0');
  const cnonce = 'deadbeef';
  const response = md5(`${md5(`${user}:${p.realm}:${password}`)}:${p.nonce}:${ncHex}:${cnonce}:auth:${md5(`${method}:${uri}`)}`);
  return `Authorization: Digest username="${user}", realm="${p.realm}", nonce="${p.nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=${ncHex}, cnonce="${cnonce}"\r\n`;
}

const DEFERRED = 'sip:deferred@example.com';
const userOf = (aor: string) => aor.slice(4, aor.indexOf('@'));

async function challengeFrom(port: number, method: string, uri: string, aor: string): Promise<string> {
  const r = await sipUdp(port, sipRequest(method, uri, aor));
  expect(r.status).toBe(401);
  return r.headers('www-authenticate').find((c) => /algorithm=MD5/.test(c))!;
}

/** GET /v1/me/balance with HTTP Basic from a chosen source address. */
function me(port: number, user: string, password: string, from = '127.0.0.1'): Promise<{ status: number; retryAfter?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/v1/me/balance', localAddress: from, agent: false, headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function metric(port: number, line: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = text.split('\n').find((l) => line.test(l));
  return m ? Number(m.split(' ').pop()) : 0;
}

describe('the digest uri and replays across replicas and restarts', () => {
  let s: Stack;
  let b: RunningImServer;
  let restarted: RunningImServer | undefined;
  beforeAll(async () => {
    s = await startStack();
    b = await startImServer(await imEnv(s.ns)); // a second replica: same Redis prefix, same ADMIN_TOKEN
  });
  afterAll(async () => {
    await restarted?.close(); // the stack closes the instance it started (closed already when restarted)
    await b.close();
    await s.close();
  });

  it('an Authorization computed for another Request-URI gets 400 naming it; the same password for the right URI passes', async () => {
    const bob = await provision(s, uniqueUser('bob'), 0);
    const ch = await challengeFrom(s.im.sipUdpPort, 'INVITE', DEFERRED, bob);
    const wrongUri = await sipUdp(s.im.sipUdpPort, sipRequest('INVITE', DEFERRED, bob, authorization(ch, userOf(bob), 'secret-pw', 'INVITE', bob)));
    expect([wrongUri.status, wrongUri.reason]).toEqual([400, 'Authorization URI Does Not Match Request-URI']);
    expect(wrongUri.header('warning')).toContain(`digest uri ${bob} is not the Request-URI ${DEFERRED}`);
    // authenticated: nothing waits for bob, so the retrieval answers 404 (an unauthenticated one would get 401)
    const right = await sipUdp(s.im.sipUdpPort, sipRequest('INVITE', DEFERRED, bob, authorization(ch, userOf(bob), 'secret-pw', 'INVITE', DEFERRED)));
    expect([right.status, right.reason]).toEqual([404, 'No deferred messages']);
    expect(await metric(s.im.httpPort, /^sip_auth_failures_total\{reason="uri-mismatch"\}/)).toBeGreaterThanOrEqual(1);
  });

  it('a captured Authorization replayed to another replica, then after a restart, gets a fresh 401 (not stale); the real client goes on', async () => {
    const bob = await provision(s, uniqueUser('bob'), 0);
    const ch = await challengeFrom(s.im.sipUdpPort, 'INVITE', DEFERRED, bob);
    const captured = authorization(ch, userOf(bob), 'secret-pw', 'INVITE', DEFERRED, 1);
    expect((await sipUdp(s.im.sipUdpPort, sipRequest('INVITE', DEFERRED, bob, captured))).status).toBe(404);

    const onB = await sipUdp(b.sipUdpPort, sipRequest('INVITE', DEFERRED, bob, captured), '127.0.0.9');
    expect(onB.status).toBe(401);
    expect(onB.headers('www-authenticate').join()).not.toMatch(/stale/i);
    expect(parseDigest(onB.headers('www-authenticate')[0])!.nonce).not.toBe(parseDigest(ch)!.nonce);
    expect(await metric(b.httpPort, /^sip_auth_failures_total\{reason="replay"\}/)).toBe(1);

    // replica A restarts with the same configuration: the nonce is still good, its used count still refused
    const env = s.env;
    await s.im.close();
    s.im = restarted = await startImServer(env);
    expect((await sipUdp(s.im.sipUdpPort, sipRequest('INVITE', DEFERRED, bob, captured), '127.0.0.9')).status).toBe(401);

    // the real client: the next count of the same nonce works on either replica, and only once
    const next = authorization(ch, userOf(bob), 'secret-pw', 'INVITE', DEFERRED, 2);
    expect((await sipUdp(b.sipUdpPort, sipRequest('INVITE', DEFERRED, bob, next))).status).toBe(404);
    expect((await sipUdp(s.im.sipUdpPort, sipRequest('INVITE', DEFERRED, bob, next))).status).toBe(401);
    const fresh = await challengeFrom(s.im.sipUdpPort, 'INVITE', DEFERRED, bob);
    expect((await sipUdp(s.im.sipUdpPort, sipRequest('INVITE', DEFERRED, bob, authorization(fresh, userOf(bob), 'secret-pw', 'INVITE', DEFERRED)))).status).toBe(404);
  });

  it('a replayed REGISTER is refused too (the nonce-count is per nonce, whatever the method)', async () => {
    const bob = await provision(s, uniqueUser('bob'), 0);
    const uri = 'sip:example.com';
    const ch = await challengeFrom(b.sipUdpPort, 'REGISTER', uri, bob);
    const captured = authorization(ch, userOf(bob), 'secret-pw', 'REGISTER', uri);
    expect((await sipUdp(b.sipUdpPort, sipRequest('REGISTER', uri, bob, captured))).status).toBe(200);
    expect((await sipUdp(s.im.sipUdpPort, sipRequest('REGISTER', uri, bob, captured))).status).toBe(401);
  });
});

describe('password guessing is throttled, per source and per account', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({
      im: { SIP_TRUSTED_PROXIES: '127.0.0.30', AUTH_FAIL_SOURCE_LIMIT: '5', AUTH_FAIL_SOURCE_WINDOW_SECONDS: '600', AUTH_FAIL_ACCOUNT_LIMIT: '8', AUTH_FAIL_ACCOUNT_WINDOW_SECONDS: '3' },
    });
  });
  afterAll(() => s.close());

  it('HTTP Basic: 30 parallel wrong passwords from one source get 5 checks, then 429 + Retry-After, even for the right password; the real user elsewhere is not locked out', async () => {
    const bob = await provision(s, uniqueUser('bob'), 250);
    const port = s.im.httpPort;
    const guesses = await Promise.all(Array.from({ length: 30 }, (_, i) => me(port, userOf(bob), `guess-${i}`, '127.0.0.2')));
    expect(guesses.filter((r) => r.status === 401)).toHaveLength(5);
    const throttled = guesses.filter((r) => r.status === 429);
    expect(throttled).toHaveLength(25);
    expect(Number(throttled[0].retryAfter)).toBeGreaterThan(500);
    expect(Number(throttled[0].retryAfter)).toBeLessThanOrEqual(600);
    expect(JSON.parse(throttled[0].body).message).toMatch(/too many failed logins; retry in \d+ s/);
    expect((await me(port, userOf(bob), 'secret-pw', '127.0.0.2')).status).toBe(429);
    // the account had 5 wrong guesses (under its limit of 8): the real user from their own address gets in
    const real = await me(port, userOf(bob), 'secret-pw', '127.0.0.3');
    expect(real.status).toBe(200);
    expect(JSON.parse(real.body)).toMatchObject({ aor: bob, balance: 250 });

    expect(await metric(port, /^http_auth_failures_total\{reason="wrong-password"\}/)).toBe(5);
    expect(await metric(port, /^auth_throttled_total\{interface="http",scope="source"\}/)).toBe(26);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).not.toContain(userOf(bob));
    expect(text).not.toContain('127.0.0.2');
  });

  it('HTTP Basic: 100 parallel right passwords from one address (a NAT) all get in: checks in flight wait, they do not lock out', async () => {
    const gus = await provision(s, uniqueUser('gus'), 10);
    const port = s.im.httpPort;
    const burst = await Promise.all(Array.from({ length: 100 }, () => me(port, userOf(gus), 'secret-pw', '127.0.0.40')));
    expect(burst.map((r) => r.status).filter((st) => st !== 200)).toEqual([]);
    // and the address is not locked out afterwards
    expect((await me(port, userOf(gus), 'secret-pw', '127.0.0.40')).status).toBe(200);
  });

  it('guesses from many sources lock the account for a short window only, and never for a source the user logged in from', async () => {
    const carol = await provision(s, uniqueUser('carol'), 100);
    const port = s.im.httpPort;
    expect((await me(port, userOf(carol), 'secret-pw', '127.0.0.10')).status).toBe(200); // carol's usual device
    // a "botnet": 4 sources × 3 guesses at once = 12 > the account's 8 (each source stays under its own 5)
    const botnet = ['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14'].flatMap((src) => [0, 1, 2].map((i) => me(port, userOf(carol), `nope-${i}`, src)));
    expect((await Promise.all(botnet)).filter((r) => r.status === 401)).toHaveLength(8);
    const newDevice = await me(port, userOf(carol), 'secret-pw', '127.0.0.15');
    expect(newDevice.status).toBe(429);
    expect(Number(newDevice.retryAfter)).toBeLessThanOrEqual(3);
    expect((await me(port, userOf(carol), 'secret-pw', '127.0.0.10')).status).toBe(200); // known device: not locked out
    expect(await metric(port, /^auth_throttled_total\{interface="http",scope="account"\}/)).toBeGreaterThanOrEqual(1);
    // the lockout ends with its window (3 s): asking again every 100 ms does not extend it (refused tries are not counted)
    await waitFor(async () => (await me(port, userOf(carol), 'secret-pw', '127.0.0.15')).status === 200, 'the account lockout to end within its window', 5000, 100);
  });

  it('SIP digest: wrong passwords get 403, then 403 with a Warning telling when to retry; the real user from a known source registers', async () => {
    const dave = await provision(s, uniqueUser('dave'), 0);
    const port = s.im.sipUdpPort;
    const uri = 'sip:example.com';
    const register = async (password: string, from: string) => {
      const ch = await challengeFrom(port, 'REGISTER', uri, dave);
      return sipUdp(port, sipRequest('REGISTER', uri, dave, authorization(ch, userOf(dave), password, 'REGISTER', uri)), from);
    };
    expect((await register('secret-pw', '127.0.0.20')).status).toBe(200);
    const before = await metric(s.im.httpPort, /^sip_auth_failures_total\{reason="wrong-password"\}/);
    for (let i = 0; i < 5; i++) {
      const r = await register(`wrong-${i}`, '127.0.0.21');
      expect([r.status, r.header('warning')]).toEqual([403, '399 127.0.0.1 "wrong credentials"']);
    }
    const blocked = await register('secret-pw', '127.0.0.21');
    expect(blocked.status).toBe(403);
    expect(blocked.header('warning')).toMatch(/^399 127\.0\.0\.1 "too many failed authentications; retry in \d+ s"$/);
    expect((await register('secret-pw', '127.0.0.20')).status).toBe(200);
    expect(await metric(s.im.httpPort, /^sip_auth_failures_total\{reason="wrong-password"\}/)).toBe(before + 5);
    expect(await metric(s.im.httpPort, /^auth_throttled_total\{interface="sip",scope="source"\}/)).toBe(1);
  });

  it('behind a trusted proxy (the edge), each client is throttled by the address the proxy received it from, not the proxy\'s', async () => {
    const erin = await provision(s, uniqueUser('erin'), 0);
    const port = s.im.sipUdpPort;
    const uri = 'sip:example.com';
    // relayed by 127.0.0.30: its own Via on top, the client's below it with the address it came from
    const viaProxy = (client: string, password: string, ch: string) =>
      sipRequest('REGISTER', uri, erin, authorization(ch, userOf(erin), password, 'REGISTER', uri)).replace(
        /^Via: [^\r]*\r\n/m,
        `Via: SIP/2.0/UDP 127.0.0.30:5060;branch=z9hG4bK${randomBytes(6).toString('hex')}\r\n` +
          `Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK${randomBytes(6).toString('hex')};rport=5060;received=${client}\r\n`,
      );
    for (let i = 0; i < 5; i++) expect((await sipUdp(port, viaProxy('192.0.2.1', `wrong-${i}`, await challengeFrom(port, 'REGISTER', uri, erin)), '127.0.0.30')).status).toBe(403);
    const blocked = await sipUdp(port, viaProxy('192.0.2.1', 'secret-pw', await challengeFrom(port, 'REGISTER', uri, erin)), '127.0.0.30');
    expect(blocked.header('warning')).toMatch(/too many failed authentications/);
    // another client through the same proxy is not blocked
    expect((await sipUdp(port, viaProxy('192.0.2.2', 'secret-pw', await challengeFrom(port, 'REGISTER', uri, erin)), '127.0.0.30')).status).toBe(200);
  });

  it('a client sending from the trusted address but not through the proxy cannot name its source in a second Via', async () => {
    const fay = await provision(s, uniqueUser('fay'), 0);
    const port = s.im.sipUdpPort;
    const uri = 'sip:example.com';
    // its own Via on top (not the proxy's sent-by), a made-up one below, a new made-up source each time
    const forged = (i: number, password: string, ch: string) =>
      sipRequest('REGISTER', uri, fay, authorization(ch, userOf(fay), password, 'REGISTER', uri)).replace(
        /^(Via: [^\r]*\r\n)/m,
        `$1Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK${randomBytes(6).toString('hex')};received=198.51.100.${i}\r\n`,
      );
    for (let i = 0; i < 5; i++) expect((await sipUdp(port, forged(i, `wrong-${i}`, await challengeFrom(port, 'REGISTER', uri, fay)), '127.0.0.30')).status).toBe(403);
    // all five counted against 127.0.0.30 itself: the sixth is throttled whatever source it claims
    const blocked = await sipUdp(port, forged(99, 'secret-pw', await challengeFrom(port, 'REGISTER', uri, fay)), '127.0.0.30');
    expect(blocked.header('warning')).toMatch(/too many failed authentications/);
  });
});

describe('one subscriber validation: a 10 KB subscriber is refused by every interface, naming the field', () => {
  let s: Stack;
  const huge = `sip:${'x'.repeat(10 * 1024)}@example.com`;
  const problem = (field: string) => `${field}: must be a sip:, sips: or tel: URI of at most 256 characters (got ${huge.length} characters)`;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(() => s.close());

  it('the enabler accounts API', async () => {
    const created = await admin(s.enabler!.httpPort, 'POST', '/v1/accounts', { subscriber: huge, balance: 1, currency: 'EUR' });
    expect([created.status, created.json.message]).toEqual([400, [problem('subscriber')]]);
    const shown = await admin(s.enabler!.httpPort, 'GET', `/v1/accounts/${encodeURIComponent(huge)}`);
    expect([shown.status, shown.json.message]).toEqual([400, [problem('subscriber')]]);
  });

  it('CH-2 over NATS', async () => {
    const { nc, ch2 } = await ch2ClientFor(s.ns);
    try {
      const r = await ch2.balance({ ...common(huge) });
      expect(r).toMatchObject({ result: 'INVALID_REQUEST', details: [problem('subscriber')] });
    } finally {
      await nc.close();
    }
  });

  it('the im-server users and deposit APIs', async () => {
    const put = await imAdmin(s, 'PUT', `/v1/users/${encodeURIComponent(huge)}`, { password: 'secret-pw' });
    expect([put.status, put.json.message]).toEqual([400, [problem('aor').replace('sip:, sips: or tel:', 'sip: or sips:')]]);
    const bob = await provision(s, uniqueUser('bob'), 0);
    const dep = await imAdmin(s, 'POST', `/v1/users/${encodeURIComponent(bob)}/deferred`, { from: huge, text: 'hi' });
    expect(dep.status).toBe(400);
    expect(dep.json.message).toEqual([problem('from')]);
  });

  it('SIP: a MESSAGE to a 10 KB user is no deposit (404 naming the rule), before any challenge', async () => {
    const text = sipRequest('MESSAGE', huge, 'sip:alice@example.com').replace('Content-Length: 0\r\n\r\n', 'Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi');
    const r = await sipUdp(s.im.sipUdpPort, text);
    expect(r.status).toBe(404);
    expect(r.header('warning')).toBe(`399 127.0.0.1 "${problem('Request-URI').replace('sip:, sips: or tel:', 'sip: or sips:')}"`);
  });

  it('SIP: a digest username of 10 KB gets 400 with a Warning naming the rule', async () => {
    const ch = await challengeFrom(s.im.sipUdpPort, 'REGISTER', 'sip:example.com', 'sip:someone@example.com');
    const long = 'x'.repeat(10 * 1024);
    const r = await sipUdp(s.im.sipUdpPort, sipRequest('REGISTER', 'sip:example.com', 'sip:someone@example.com', authorization(ch, long, 'pw', 'REGISTER', 'sip:example.com')));
    expect([r.status, r.reason]).toEqual([400, 'Invalid Digest Username']);
    expect(r.header('warning')).toBe(`399 127.0.0.1 "username: must be a sip: or sips: URI of at most 256 characters (got ${`sip:${long}@example.com`.length} characters)"`);
  });
});
