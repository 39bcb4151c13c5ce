/**
 * Binding rules over real sockets (RFC 4975 §5.4, §6.1, §14.1), on a plain TCP listener and on a TLS (`msrps`) one:
 * raw clients send hand-written bind SENDs — a wrong session-id, the right session-id with a wrong From-Path, a TLS
 * session over plain TCP, the right bind, a second bind of the same session — and see 481/506 then a closed
 * connection, or a 200 and a working session; every refusal is reported with the peer and without the session-id.
 */
import { BindRefusal, MsrpSession, newSessionId } from '@imc/msrp';
import { WebSocket } from 'ws';
import { MsrpTcpServer, MsrpWsServer, nodeMsrpClock, nodeRandom, UnboundLimiter } from '@imc/msrp-node';
import { findBinary } from '@imc/runtime';
import { bindSend, okFor, rawMsrp, selfSignedCert } from '../support/msrp-raw';

const maybe = findBinary('openssl') ? describe : describe.skip;

maybe('MSRP binding over raw sockets', () => {
  const sessions = new Map<string, MsrpSession>();
  const refusals: BindRefusal[] = [];
  const bound: string[] = [];
  const directory = { find: (id: string) => sessions.get(id) };
  const events = { onRefused: (r: BindRefusal) => refusals.push(r), onBound: (s: MsrpSession) => bound.push(s.id) };
  let cert: ReturnType<typeof selfSignedCert>;
  let plain: MsrpTcpServer;
  let tls: MsrpTcpServer;

  beforeAll(async () => {
    cert = selfSignedCert();
    plain = new MsrpTcpServer(directory, events, {}, { bindTimeoutMs: 300 });
    tls = new MsrpTcpServer(directory, events, {}, { tls: { cert: cert.cert, key: cert.key }, bindTimeoutMs: 300 });
    await plain.listen(0, '127.0.0.1');
    await tls.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await plain.close();
    await tls.close();
    cert.dispose();
  });

  /** A server session as the im-server makes one: fresh 128-bit id, the client's SDP path as the remote path. */
  function serverSession(secure: boolean) {
    const sid = newSessionId(nodeRandom);
    const port = secure ? tls.port : plain.port;
    const localPath = `${secure ? 'msrps' : 'msrp'}://127.0.0.1:${port}/${sid};tcp`;
    const clientPath = `${secure ? 'msrps' : 'msrp'}://client.invalid:9/${newSessionId(nodeRandom)};tcp`;
    const s = new MsrpSession({ localPath, remotePath: clientPath, clock: nodeMsrpClock, random: nodeRandom, sendOnly: true });
    sessions.set(s.id, s);
    return { s, sid, localPath, clientPath, port };
  }

  describe.each([
    ['msrp over TCP', false],
    ['msrps over TLS', true],
  ] as const)('%s', (_n, secure) => {
    it('a wrong session-id: 481, then the connection is closed, and the refusal is logged without the id', async () => {
      const { sid, localPath, clientPath, port } = serverSession(secure);
      const wrong = localPath.replace(sid, sid.slice(0, -1) + (sid.endsWith('a') ? 'b' : 'a'));
      const c = await rawMsrp('127.0.0.1', port, secure);
      const before = refusals.length;
      c.write(bindSend(wrong, clientPath));
      expect((await c.next()).status).toBe(481);
      await c.closed;
      expect(refusals.slice(before)).toEqual([expect.objectContaining({ status: 481, reason: 'unknown session-id', peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) })]);
      expect(JSON.stringify(refusals)).not.toContain(sid.slice(0, -1));
    });

    it('the right session-id with a wrong From-Path: 481, closed, the session stays unbound', async () => {
      const { s, localPath, clientPath, port } = serverSession(secure);
      const c = await rawMsrp('127.0.0.1', port, secure);
      c.write(bindSend(localPath, clientPath.replace('client.invalid', 'attacker.invalid')));
      expect((await c.next()).status).toBe(481);
      await c.closed;
      expect(s.bound).toBe(false);
      expect(refusals.at(-1)?.reason).toBe('From-Path does not match the path offered in SDP');
    });

    it('the right bind works; a second connection for the same session gets 506 and is closed; the first still serves', async () => {
      const { s, localPath, clientPath, port } = serverSession(secure);
      const first = await rawMsrp('127.0.0.1', port, secure);
      first.write(bindSend(localPath, clientPath));
      expect((await first.next()).status).toBe(200);
      expect(s.bound).toBe(true);
      expect(bound).toContain(s.id);
      const second = await rawMsrp('127.0.0.1', port, secure);
      second.write(bindSend(localPath, clientPath));
      expect((await second.next()).status).toBe(506);
      await second.closed;
      expect(refusals.at(-1)?.reason).toBe('session already bound to another connection');
      // the first connection still carries the session: a message goes through
      const sent = s.send({ contentType: 'text/plain', body: new TextEncoder().encode('still yours') });
      const f = await first.next((x) => x.method === 'SEND');
      expect(new TextDecoder().decode(f.body)).toBe('still yours');
      first.write(okFor(f));
      expect(await sent).toEqual({ kind: 'delivered' });
      expect(first.isClosed()).toBe(false);
      first.end();
    });

    it('a connection that binds nothing is closed after the bind timeout', async () => {
      const c = await rawMsrp('127.0.0.1', secure ? tls.port : plain.port, secure);
      await c.closed;
      expect(refusals.at(-1)?.reason).toBe('no session bound within 300 ms');
    });
  });

  it('a TLS session cannot be bound over plain TCP, even with the right paths (and a plain one not over TLS)', async () => {
    const t = serverSession(true);
    const c = await rawMsrp('127.0.0.1', plain.port, false);
    c.write(bindSend(t.localPath, t.clientPath));
    expect((await c.next()).status).toBe(481);
    await c.closed;
    expect(t.s.bound).toBe(false);
    const p = serverSession(false);
    const c2 = await rawMsrp('127.0.0.1', tls.port, true);
    c2.write(bindSend(p.localPath, p.clientPath));
    expect((await c2.next()).status).toBe(481);
    await c2.closed;
    expect(p.s.bound).toBe(false);
  });

  it('a plaintext client on the TLS port never reaches the MSRP layer', async () => {
    const t = serverSession(true);
    const c = await rawMsrp('127.0.0.1', tls.port, false);
    c.write(bindSend(t.localPath, t.clientPath));
    await c.closed;
    expect(c.frames).toEqual([]);
    expect(t.s.bound).toBe(false);
  });

  it('TLS: a connection beyond the per-source allowance of unbound ones is closed at once; one that binds frees its slot', async () => {
    const unbound = new UnboundLimiter(1, 8);
    const capped = new MsrpTcpServer(directory, events, {}, { tls: { cert: cert.cert, key: cert.key }, bindTimeoutMs: 0, unbound });
    const port = await capped.listen(0, '127.0.0.1');
    try {
      const sid = newSessionId(nodeRandom);
      const localPath = `msrps://127.0.0.1:${port}/${sid};tcp`;
      const clientPath = `msrps://client.invalid:9/${newSessionId(nodeRandom)};tcp`;
      sessions.set(sid, new MsrpSession({ localPath, remotePath: clientPath, clock: nodeMsrpClock, random: nodeRandom, sendOnly: true }));
      const first = await rawMsrp('127.0.0.1', port, true);
      const over = await rawMsrp('127.0.0.1', port, true);
      await over.closed;
      expect(over.frames).toEqual([]);
      expect(refusals.at(-1)?.reason).toBe('already 1 connections without a bound session from this source');
      expect(unbound.dropped.perSource).toBe(1);
      first.write(bindSend(localPath, clientPath));
      expect((await first.next()).status).toBe(200);
      expect(unbound.size).toEqual({ unbound: 0, sources: 0 }); // bound: no longer counted
      const next = await rawMsrp('127.0.0.1', port, true);
      next.write(bindSend(localPath.replace(sid, newSessionId(nodeRandom)), clientPath));
      expect((await next.next()).status).toBe(481); // admitted (and then refused for its unknown session)
      first.end();
    } finally {
      await capped.close();
    }
  });

  it('over WebSocket too, a connection that binds nothing is closed after the bind timeout', async () => {
    const ws = new MsrpWsServer(directory, events, {}, { bindTimeoutMs: 300 });
    const port = await ws.listen(0, '127.0.0.1');
    try {
      const client = new WebSocket(`ws://127.0.0.1:${port}`, 'msrp');
      await new Promise((r) => client.once('open', r));
      await new Promise((r) => client.once('close', r));
      expect(refusals.at(-1)?.reason).toBe('no session bound within 300 ms');
    } finally {
      await ws.close();
    }
  });
});
