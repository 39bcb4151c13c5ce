/**
 * Deferred retrieval over MSRP over TLS (`msrps`, RFC 4975 §14) against the real im-server, and the binding rules
 * on its real listeners:
 * - sip.js (digest over WebSocket) offers TCP/TLS/MSRP; the CLI's node:tls client checks the server's certificate
 *   against the a=fingerprint of the answer and retrieves everything, charged exactly;
 * - a hand-driven INVITE (P-Asserted-Identity from a trusted proxy) shows the answer: an msrps path on the TLS port
 *   with a 128-bit session-id, a=fingerprint of the configured certificate; raw TLS sockets then try a wrong
 *   session-id, the right one with a wrong From-Path, the session over plain TCP, the right bind, a second bind;
 * - the server as the active side: it connects over TLS to the client's msrps path only when the client's
 *   certificate matches the fingerprint of its offer;
 * - the configuration refuses half or broken TLS settings, naming the variable.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { ConsoleLogger } from '@nestjs/common';
import { createServer as createTlsServer, Server as TlsServer } from 'node:tls';
import { MsrpConnection, MsrpFrame, MsrpParser } from '@imc/msrp';
import { findBinary } from '@imc/runtime';
import { retrieve } from '../../apps/cli/src/retrieval-client';
import { loadImServerConfig } from '../../apps/im-server/src/config';
import { account, deposit, pendingCount, provision, settled, Stack, startStack, uniqueUser } from '../support/stack-harness';
import { waitFor } from '../support/enabler-harness';
import { bindSend, okFor, rawMsrp, selfSignedCert } from '../support/msrp-raw';
import { inviteDeferred, msrpOffer, RawSipTcp } from '../support/sip-raw';

// test tariff im.deferred-retrieval: 5 per message + 1 per started KiB
const price = (octets: number) => 5 + Math.ceil(octets / 1024);
const maybe = findBinary('openssl') ? describe : describe.skip;

maybe('deferred retrieval over MSRP over TLS (msrps)', () => {
  let s: Stack;
  let cert: ReturnType<typeof selfSignedCert>;
  let fingerprint: string;

  beforeAll(async () => {
    cert = selfSignedCert();
    fingerprint = new X509Certificate(cert.cert).fingerprint256;
    s = await startStack({ im: { MSRP_TLS_CERT: cert.certFile, MSRP_TLS_KEY: cert.keyFile, SIP_TRUSTED_PROXIES: '127.0.0.1', IM_SESSION_IDLE_MS: '300' } });
  });
  afterAll(async () => {
    await s?.close();
    cert?.dispose();
  });

  it('sip.js + node:tls retrieve every message over msrps, the certificate checked by fingerprint, charged exactly', async () => {
    expect(s.im.msrpTlsPort).toBeGreaterThan(0);
    const bob = await provision(s, uniqueUser('bob'), 1000);
    const texts = ['over TLS one', 'over TLS two: ✓', 'three ' + 'y'.repeat(3000)];
    for (const t of texts) await deposit(s, bob, 'sip:alice@example.com', t);
    const res = await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', msrp: 'tls', expect: 3, timeoutMs: 10000 });
    expect(res.status).toBe(200);
    expect(res.messages.map((m) => m.text)).toEqual(texts);
    const acct = await settled(s, bob);
    expect(acct.balance).toBe(1000 - texts.reduce((a, t) => a + price(Buffer.byteLength(t)), 0));
    expect(await pendingCount(s, bob)).toBe(0);
  });

  it('the answer names the TLS listener, a 128-bit session-id and our fingerprint; binding refuses all but the right peer, once', async () => {
    const bob = await provision(s, uniqueUser('bob'), 1000);
    await deposit(s, bob, 'sip:alice@example.com', 'first');
    await deposit(s, bob, 'sip:alice@example.com', 'second');
    const clientPath = `msrps://client.invalid:9/${randomBytes(10).toString('hex')};tcp`;
    const sip = await RawSipTcp.open(s.im.sipTcpPort);
    try {
      const ok = await inviteDeferred(sip, bob, msrpOffer({ proto: 'TCP/TLS/MSRP', path: clientPath, setup: 'active' }));
      expect(ok.startLine).toBe('SIP/2.0 200 OK');
      expect(ok.body).toContain(`m=message ${s.im.msrpTlsPort} TCP/TLS/MSRP *`);
      expect(ok.body).toContain(`a=fingerprint:SHA-256 ${fingerprint}`);
      expect(ok.body).toContain('a=setup:passive');
      const path = /a=path:(\S+)/.exec(ok.body)![1];
      const m = new RegExp(`^msrps://127\\.0\\.0\\.1:${s.im.msrpTlsPort}/([A-Za-z0-9]+);tcp$`).exec(path);
      expect(m).not.toBeNull();
      const sid = m![1];
      expect(sid.length * Math.log2(62)).toBeGreaterThanOrEqual(128); // RFC 4975 §14.1: at least 80

      // a wrong session-id: 481 and closed, and logged with the peer and the reason, never the session-id
      const out = jest.spyOn(ConsoleLogger.prototype, 'log'); // called even at LOG_LEVEL=silent (the level filters inside)
      const guess = await rawMsrp('127.0.0.1', s.im.msrpTlsPort, true);
      guess.write(bindSend(path.replace(sid, sid.slice(0, -1) + (sid.endsWith('A') ? 'B' : 'A')), clientPath));
      expect((await guess.next()).status).toBe(481);
      await guess.closed;
      const logged = out.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('MSRP connection from'));
      out.mockRestore();
      expect(logged.some((l) => /MSRP connection from 127\.0\.0\.1:\d+ refused \(481\): unknown session-id/.test(l))).toBe(true);
      for (const l of logged) expect(l).not.toContain(sid.slice(0, -1));
      // the right session-id from someone else's path: 481 and closed
      const thief = await rawMsrp('127.0.0.1', s.im.msrpTlsPort, true);
      thief.write(bindSend(path, clientPath.replace('client.invalid', 'thief.invalid')));
      expect((await thief.next()).status).toBe(481);
      await thief.closed;
      // the right paths, but over plain TCP: the TLS session is not bound there
      const plain = await rawMsrp('127.0.0.1', s.im.msrpTcpPort, false);
      plain.write(bindSend(path.replace('msrps:', 'msrp:'), clientPath));
      expect((await plain.next()).status).toBe(481);
      await plain.closed;

      // the right bind over TLS: 200, and the messages follow
      const c = await rawMsrp('127.0.0.1', s.im.msrpTlsPort, true);
      c.write(bindSend(path, clientPath));
      expect((await c.next()).status).toBe(200);
      const first = await c.next((f) => f.method === 'SEND');
      // a second connection for the bound session: 506 and closed
      const again = await rawMsrp('127.0.0.1', s.im.msrpTlsPort, true);
      again.write(bindSend(path, clientPath));
      expect((await again.next()).status).toBe(506);
      await again.closed;
      // the first connection still carries the session
      c.write(okFor(first));
      const second = await c.next((f) => f.method === 'SEND');
      c.write(okFor(second));
      const cpim = [first, second].map((f) => new TextDecoder().decode(f.body));
      expect(cpim[0]).toMatch(/first$/);
      expect(cpim[1]).toMatch(/second$/);
      for (const f of [first, second]) expect(f.toPath).toEqual([clientPath]);
      await sip.next(/^BYE /); // idle: the server hangs up
      expect(await pendingCount(s, bob)).toBe(0);
      expect((await settled(s, bob)).balance).toBe(1000 - price(5) - price(6));
      c.end();
    } finally {
      sip.close();
    }
  });

  it("a connection carrying bob's session never binds carol's: 481 and closed; carol binds on her own connection", async () => {
    const bob = await provision(s, uniqueUser('bob'), 1000);
    const carol = await provision(s, uniqueUser('carol'), 1000);
    await deposit(s, bob, 'sip:alice@example.com', 'for bob');
    await deposit(s, carol, 'sip:alice@example.com', 'for carol');
    const sipB = await RawSipTcp.open(s.im.sipTcpPort);
    const sipC = await RawSipTcp.open(s.im.sipTcpPort);
    try {
      const bobPath = `msrps://client.invalid:9/${randomBytes(10).toString('hex')};tcp`;
      const carolPath = `msrps://client.invalid:9/${randomBytes(10).toString('hex')};tcp`;
      const okB = await inviteDeferred(sipB, bob, msrpOffer({ proto: 'TCP/TLS/MSRP', path: bobPath, setup: 'active' }));
      const okC = await inviteDeferred(sipC, carol, msrpOffer({ proto: 'TCP/TLS/MSRP', path: carolPath, setup: 'active' }));
      const serverB = /a=path:(\S+)/.exec(okB.body)![1];
      const serverC = /a=path:(\S+)/.exec(okC.body)![1];
      const c = await rawMsrp('127.0.0.1', s.im.msrpTlsPort, true);
      c.write(bindSend(serverB, bobPath));
      expect((await c.next()).status).toBe(200);
      c.write(bindSend(serverC, carolPath)); // both of carol's paths are right: still not on bob's connection
      expect((await c.next((f) => f.status !== undefined)).status).toBe(481);
      await c.closed;
      const own = await rawMsrp('127.0.0.1', s.im.msrpTlsPort, true);
      own.write(bindSend(serverC, carolPath));
      expect((await own.next()).status).toBe(200);
      const m = await own.next((f) => f.method === 'SEND');
      expect(new TextDecoder().decode(m.body)).toMatch(/for carol$/);
      own.write(okFor(m));
      await waitFor(async () => (await pendingCount(s, carol)) === 0 || undefined, "carol's message delivered");
      own.end();
    } finally {
      sipB.close();
      sipC.close();
    }
  });

  describe('the server connects (the client offered actpass) over TLS', () => {
    let client: ReturnType<typeof selfSignedCert>;
    let other: ReturnType<typeof selfSignedCert>;
    let tls: TlsServer;
    let port: number;
    const received: MsrpFrame[][] = [];
    beforeAll(async () => {
      client = selfSignedCert();
      other = selfSignedCert();
      // the client's MSRP side: a TLS listener with a self-signed certificate, answering every SEND 200
      tls = createTlsServer({ cert: client.cert, key: client.key }, (sock) => {
        const frames: MsrpFrame[] = [];
        received.push(frames);
        const p = new MsrpParser();
        sock.on('data', (d: Buffer) => {
          for (const e of p.push(new Uint8Array(d))) {
            if (e.type !== 'frame') continue;
            frames.push(e.frame);
            if (e.frame.method === 'SEND') sock.write(okFor(e.frame));
          }
        });
        sock.on('error', () => undefined);
      });
      await new Promise<void>((r) => tls.listen(0, '127.0.0.1', () => r()));
      port = (tls.address() as { port: number }).port;
    });
    afterAll(async () => {
      await new Promise((r) => tls.close(r));
      client.dispose();
      other.dispose();
    });

    it('with the fingerprint of the certificate it meets: it binds and delivers', async () => {
      const bob = await provision(s, uniqueUser('bob'), 1000);
      await deposit(s, bob, 'sip:alice@example.com', 'pushed over TLS');
      const clientPath = `msrps://127.0.0.1:${port}/${randomBytes(10).toString('hex')};tcp`;
      const sip = await RawSipTcp.open(s.im.sipTcpPort);
      try {
        const before = received.length;
        const fp = `SHA-256 ${new X509Certificate(client.cert).fingerprint256}`;
        const ok = await inviteDeferred(sip, bob, msrpOffer({ proto: 'TCP/TLS/MSRP', path: clientPath, setup: 'actpass', port, fingerprint: fp }));
        expect(ok.startLine).toBe('SIP/2.0 200 OK');
        expect(ok.body).toContain('a=setup:active');
        await waitFor(async () => (await pendingCount(s, bob)) === 0 || undefined, 'delivered');
        const frames = received[before];
        expect(frames[0]).toMatchObject({ method: 'SEND', toPath: [clientPath] }); // the bind SEND names our path
        expect(frames.some((f) => new TextDecoder().decode(f.body).endsWith('pushed over TLS'))).toBe(true);
        await sip.next(/^BYE /);
      } finally {
        sip.close();
      }
    });

    it('with the fingerprint of another certificate: no connection, nothing delivered, nothing charged', async () => {
      const bob = await provision(s, uniqueUser('bob'), 1000);
      await deposit(s, bob, 'sip:alice@example.com', 'must not leave');
      const clientPath = `msrps://127.0.0.1:${port}/${randomBytes(10).toString('hex')};tcp`;
      const sip = await RawSipTcp.open(s.im.sipTcpPort);
      try {
        const before = received.length;
        const fp = `SHA-256 ${new X509Certificate(other.cert).fingerprint256}`;
        const ok = await inviteDeferred(sip, bob, msrpOffer({ proto: 'TCP/TLS/MSRP', path: clientPath, setup: 'actpass', port, fingerprint: fp }));
        expect(ok.startLine).toBe('SIP/2.0 200 OK');
        await sip.next(/^BYE /); // the server gives up on a peer it cannot trust
        expect(received.slice(before).flat()).toEqual([]); // not one MSRP byte reached the client
        expect(await pendingCount(s, bob)).toBe(1);
        expect((await settled(s, bob)).balance).toBe(1000);
      } finally {
        sip.close();
      }
    });
  });

  it('offers the client cannot have meant are refused 488: TLS with an msrp path, TCP with an msrps path', async () => {
    const bob = await provision(s, uniqueUser('bob'), 1000);
    await deposit(s, bob, 'sip:alice@example.com', 'x');
    const sip = await RawSipTcp.open(s.im.sipTcpPort);
    try {
      const a = await inviteDeferred(sip, bob, msrpOffer({ proto: 'TCP/TLS/MSRP', path: 'msrp://client.invalid:9/abc;tcp', setup: 'active' }));
      expect(a.startLine).toMatch(/^SIP\/2.0 488/);
      expect(a.headers.get('warning')).toMatch(/msrps/);
      const b = await inviteDeferred(sip, bob, msrpOffer({ proto: 'TCP/MSRP', path: 'msrps://client.invalid:9/abc;tcp', setup: 'active' }));
      expect(b.startLine).toMatch(/^SIP\/2.0 488/);
    } finally {
      sip.close();
    }
  });
});

maybe('MSRP TLS configuration', () => {
  const load = (env: Record<string, string>) => loadImServerConfig({ NODE_ENV: 'development', ...env });
  let cert: ReturnType<typeof selfSignedCert>;
  let other: ReturnType<typeof selfSignedCert>;
  beforeAll(() => {
    cert = selfSignedCert();
    other = selfSignedCert();
  });
  afterAll(() => {
    cert.dispose();
    other.dispose();
  });

  it('no certificate: no msrps; SIP_TLS_* is reused; MSRP_TLS_* takes precedence; MSRP_TLS_PORT=0 turns it off', () => {
    expect(load({}).msrpTls).toBeUndefined();
    expect(load({ SIP_TLS_CERT: cert.certFile, SIP_TLS_KEY: cert.keyFile }).msrpTls).toMatchObject({ cert: cert.cert, port: 2857, require: false });
    expect(load({ SIP_TLS_CERT: cert.certFile, SIP_TLS_KEY: cert.keyFile, MSRP_TLS_CERT: other.certFile, MSRP_TLS_KEY: other.keyFile, MSRP_TLS_PORT: '3857' }).msrpTls).toMatchObject({
      cert: other.cert,
      port: 3857,
    });
    expect(load({ MSRP_TLS_CERT: cert.certFile, MSRP_TLS_KEY: cert.keyFile, MSRP_TLS_PORT: '0' }).msrpTls).toBeUndefined();
  });

  it.each([
    ['a certificate without a key', { MSRP_TLS_CERT: 'CERT' }, /MSRP_TLS_KEY must be set together/],
    ['a key without a certificate', { MSRP_TLS_KEY: 'KEY' }, /MSRP_TLS_CERT must be set together/],
    ['an unreadable file', { MSRP_TLS_CERT: '/nonexistent/cert.pem', MSRP_TLS_KEY: 'KEY' }, /MSRP_TLS_CERT cannot be read/],
    ['a key that does not match the certificate', { MSRP_TLS_CERT: 'CERT', MSRP_TLS_KEY: 'OTHERKEY' }, /MSRP_TLS_CERT is not a usable certificate and key pair/],
    ['TLS required without a certificate', { MSRP_REQUIRE_TLS: 'true' }, /MSRP_REQUIRE_TLS needs a certificate/],
    ['a bad MSRP_TLS_PORT', { MSRP_TLS_CERT: 'CERT', MSRP_TLS_KEY: 'KEY', MSRP_TLS_PORT: '70000' }, /MSRP_TLS_PORT/],
  ])('%s is refused, naming the variable', (_n, env, error) => {
    const files: Record<string, string> = { CERT: cert.certFile, KEY: cert.keyFile, OTHERKEY: other.keyFile };
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, files[v] ?? v]));
    expect(() => load(resolved)).toThrow(error);
  });
});
