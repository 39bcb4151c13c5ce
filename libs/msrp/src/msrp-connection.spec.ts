import { BindRefusal, MsrpConnection, MsrpLink } from './msrp-connection';
import { MsrpFrame } from './msrp-frame';
import { MsrpParser } from './msrp-parser';
import { MsrpSession } from './msrp-session';
import { sameMsrpUri } from './msrp-uri';
import { CountingRandom } from './test-random';

const clock = { now: () => 0, setTimer: () => ({ cancel: () => undefined }) };
const SERVER = 'msrps://im.example.net:2857/Sess10nSecret0123456789;tcp';
const CLIENT = 'msrps://ue.example.com:7777/cl1ent;tcp';
const enc = (s: string) => new TextEncoder().encode(s);
const bind = (to: string, from: string, tid = 'tid00001') => enc(`MSRP ${tid} SEND\r\nTo-Path: ${to}\r\nFrom-Path: ${from}\r\nMessage-ID: m1\r\nByte-Range: 1-0/0\r\n-------${tid}$\r\n`);

function server(link: MsrpLink = { scheme: 'msrps', transport: 'tcp', peer: '198.51.100.9:40000' }, ...others: MsrpSession[]) {
  const session = new MsrpSession({ localPath: SERVER, remotePath: CLIENT, clock, random: new CountingRandom(), owner: 'sip:bob@example.com' });
  return { session, ...connection(session, link, others) };
}

function connection(session: MsrpSession, link: MsrpLink = { scheme: 'msrps', transport: 'tcp', peer: '198.51.100.9:40000' }, others: MsrpSession[] = []) {
  const out: MsrpFrame[] = [];
  const refusals: BindRefusal[] = [];
  const bound: MsrpSession[] = [];
  let closed = false;
  const p = new MsrpParser();
  const conn = new MsrpConnection(
    (b) => {
      for (const e of p.push(b)) if (e.type === 'frame') out.push(e.frame);
    },
    () => (closed = true),
    { find: (id) => [session, ...others].find((s) => s.id === id) },
    { onBound: (s) => bound.push(s), onRefused: (r) => refusals.push(r) },
    {},
    link,
  );
  return { conn, out, refusals, bound, isClosed: () => closed };
}

describe('binding a connection to a session (RFC 4975 §5.4, §6.1, §14.1)', () => {
  it('the first request naming our path and coming from the SDP path binds and is answered 200', () => {
    const t = server();
    t.conn.push(bind(SERVER, CLIENT));
    expect(t.bound).toEqual([t.session]);
    expect(t.out.map((f) => f.status)).toEqual([200]);
    expect(t.refusals).toEqual([]);
    expect(t.isClosed()).toBe(false);
  });

  it('URI comparison per §6.1: scheme, host and transport case-insensitive', () => {
    const t = server();
    t.conn.push(bind('MSRPS://IM.example.NET:2857/Sess10nSecret0123456789;TCP', 'msrps://UE.EXAMPLE.COM:7777/cl1ent;tcp'));
    expect(t.bound).toHaveLength(1);
    expect(sameMsrpUri(SERVER, SERVER.replace('Sess10n', 'sess10n'))).toBe(false); // the session-id is case-sensitive
  });

  it.each([
    ['an unknown session-id', SERVER.replace('Secret', 'Guess0'), CLIENT, 'unknown session-id'],
    ['the right session-id with a wrong From-Path', SERVER, 'msrps://attacker.example:9/cl1ent;tcp', 'From-Path does not match the path offered in SDP'],
    ['the right session-id behind another host in the To-Path', SERVER.replace('im.example.net', 'evil.example'), CLIENT, 'To-Path does not match the session'],
    ['a To-Path with more than one hop', `${SERVER} msrps://relay.example:1/r;tcp`, CLIENT, 'To-Path does not match the session'],
  ])('%s: 481, connection closed, refusal reported without the session-id', (_n, to, from, reason) => {
    const t = server();
    t.conn.push(bind(to, from));
    expect(t.out.map((f) => f.status)).toEqual([481]);
    expect(t.bound).toEqual([]);
    expect(t.isClosed()).toBe(true);
    expect(t.refusals).toEqual([{ status: 481, reason, peer: '198.51.100.9:40000' }]);
    expect(JSON.stringify(t.refusals)).not.toContain('Sess10nSecret');
    expect(t.session.bound).toBe(false);
  });

  it('a TLS session does not bind over a plain TCP connection, even with the right paths', () => {
    const t = server({ scheme: 'msrp', transport: 'tcp', peer: 'p' });
    t.conn.push(bind(SERVER, CLIENT));
    expect(t.out.map((f) => f.status)).toEqual([481]);
    expect(t.isClosed()).toBe(true);
    expect(t.session.bound).toBe(false);
  });

  it('a second connection for a bound session gets 506 and is closed; the first keeps the session', () => {
    const first = server();
    first.conn.push(bind(SERVER, CLIENT));
    const second = connection(first.session);
    second.conn.push(bind(SERVER, CLIENT, 'tid00002'));
    expect(second.out.map((f) => f.status)).toEqual([506]);
    expect(second.isClosed()).toBe(true);
    expect(second.refusals.map((r) => r.reason)).toEqual(['session already bound to another connection']);
    expect(first.isClosed()).toBe(false);
    expect(first.session.bound).toBe(true);
  });

  const another = (owner: string, sid: string) =>
    new MsrpSession({ localPath: SERVER.replace('Sess10nSecret0123456789', sid), remotePath: CLIENT, clock, random: new CountingRandom(), owner });

  it("another user's session on a bound connection: 481 and closed, that session stays unbound", () => {
    const carol = another('sip:carol@example.com', 'CarolsSession0123456789');
    const t = server(undefined, carol);
    t.conn.push(bind(SERVER, CLIENT));
    t.conn.push(bind(carol.localPath, CLIENT, 'tid00003'));
    expect(t.out.map((f) => f.status)).toEqual([200, 481]);
    expect(t.isClosed()).toBe(true);
    expect(carol.bound).toBe(false);
    expect(t.refusals.map((r) => r.reason)).toEqual(["another user's session on a connection already bound"]);
  });

  it("the same user's second session may share the connection (§5.4)", () => {
    const next = another('sip:bob@example.com', 'BobsNextSession01234567');
    const t = server(undefined, next);
    t.conn.push(bind(SERVER, CLIENT));
    t.conn.push(bind(next.localPath, CLIENT, 'tid00004'));
    expect(t.out.map((f) => f.status)).toEqual([200, 200]);
    expect(next.bound && t.session.bound).toBe(true);
  });

  it("once its sessions have ended the connection may be reused, by another user's session too (a relay, a load generator)", () => {
    const next = another('sip:carol@example.com', 'CarolsSession0123456789');
    const t = server(undefined, next);
    t.conn.push(bind(SERVER, CLIENT));
    t.session.close();
    t.conn.push(enc(`MSRP tid00010 200 OK\r\nTo-Path: ${SERVER}\r\nFrom-Path: ${CLIENT}\r\n-------tid00010$\r\n`)); // a stale response: ignored
    t.conn.push(bind(next.localPath, CLIENT, 'tid00004'));
    expect(t.out.map((f) => f.status)).toEqual([200, 200]);
    expect(next.bound).toBe(true);
    expect(t.isClosed()).toBe(false);
    expect(t.refusals).toEqual([]);
  });

  it("a session draining after its BYE does not hold the connection: another user's binds, and the drained one still takes its responses", async () => {
    const next = another('sip:carol@example.com', 'CarolsSession0123456789');
    const t = server(undefined, next);
    t.conn.push(bind(SERVER, CLIENT));
    const sent = t.session.send({ contentType: 'text/plain', body: enc('last one') });
    const tid = t.out[t.out.length - 1].tid;
    t.session.drain();
    expect(await t.session.send({ contentType: 'text/plain', body: enc('not any more') })).toEqual({ kind: 'closed' });
    t.conn.push(bind(next.localPath, CLIENT, 'tid00004'));
    expect(t.out.filter((f) => f.status !== undefined).map((f) => f.status)).toEqual([200, 200]);
    expect(next.bound).toBe(true);
    expect(t.isClosed()).toBe(false);
    // the 200 for the SEND written before the BYE still reaches its session
    t.conn.push(enc(`MSRP ${tid} 200 OK\r\nTo-Path: ${SERVER}\r\nFrom-Path: ${CLIENT}\r\n-------${tid}$\r\n`));
    expect(await sent).toEqual({ kind: 'delivered' });
  });

  it('a response before any request closes the connection', () => {
    const t = server();
    t.conn.push(enc(`MSRP tid00009 200 OK\r\nTo-Path: ${SERVER}\r\nFrom-Path: ${CLIENT}\r\n-------tid00009$\r\n`));
    expect(t.out).toEqual([]);
    expect(t.isClosed()).toBe(true);
    expect(t.session.bound).toBe(false);
  });

  it('nothing after a refusal is processed, even in the same chunk', () => {
    const t = server();
    const bad = bind(SERVER.replace('Secret', 'Guess0'), CLIENT, 'tid0000a');
    const good = bind(SERVER, CLIENT, 'tid0000b');
    const both = new Uint8Array(bad.length + good.length);
    both.set(bad);
    both.set(good, bad.length);
    t.conn.push(both);
    expect(t.out.map((f) => f.status)).toEqual([481]);
    expect(t.session.bound).toBe(false);
  });
});

describe('screening a header section before its body (RFC 4975 §7.3, §14.1)', () => {
  const headers = (to: string, from: string, tid = 'tid000h1') =>
    enc(`MSRP ${tid} SEND\r\nTo-Path: ${to}\r\nFrom-Path: ${from}\r\nMessage-ID: m1\r\nByte-Range: 1-*/16777216\r\nContent-Type: text/plain\r\n\r\n`);

  it('a SEND naming an unknown session is answered 481 and closed after its headers, and none of its body is kept', () => {
    const t = server();
    t.conn.push(headers(SERVER.replace('Secret', 'Guess0'), CLIENT));
    expect(t.out.map((f) => [f.tid, f.status])).toEqual([['tid000h1', 481]]);
    expect(t.isClosed()).toBe(true);
    expect(t.refusals).toEqual([{ status: 481, reason: 'unknown session-id', peer: '198.51.100.9:40000' }]);
    expect(t.conn.bufferedBytes).toBe(0);
    t.conn.push(new Uint8Array(1024 * 1024).fill(0x61)); // the body that follows is never parsed nor kept
    expect(t.conn.bufferedBytes).toBe(0);
    expect(t.out).toHaveLength(1);
  });

  it.each([
    ['a wrong From-Path', SERVER, 'msrps://attacker.example:9/cl1ent;tcp', 481, 'From-Path does not match the path offered in SDP'],
    ['another host in the To-Path', SERVER.replace('im.example.net', 'evil.example'), CLIENT, 481, 'To-Path does not match the session'],
  ])('%s: refused after the headers too', (_n, to, from, status, reason) => {
    const t = server();
    t.conn.push(headers(to, from));
    expect(t.out.map((f) => f.status)).toEqual([status]);
    expect(t.isClosed()).toBe(true);
    expect(t.refusals.map((r) => r.reason)).toEqual([reason]);
    expect(t.session.bound).toBe(false);
  });

  it('a session bound to another connection: 506 after the headers', () => {
    const first = server();
    first.conn.push(bind(SERVER, CLIENT));
    const second = connection(first.session);
    second.conn.push(headers(SERVER, CLIENT, 'tid000h2'));
    expect(second.out.map((f) => f.status)).toEqual([506]);
    expect(second.isClosed()).toBe(true);
    expect(first.session.bound).toBe(true);
  });

  it('a response with a body before any request is closed after its headers', () => {
    const t = server();
    t.conn.push(enc(`MSRP tid000h3 200 OK\r\nTo-Path: ${SERVER}\r\nFrom-Path: ${CLIENT}\r\nContent-Type: text/plain\r\n\r\nabc`));
    expect(t.out).toEqual([]);
    expect(t.isClosed()).toBe(true);
    expect(t.refusals.map((r) => r.reason)).toEqual(['a response before any request on the connection']);
  });

  it('a first request that passes waits for its body, binds when whole, and is screened only once', () => {
    const t = server();
    const whole = enc(`MSRP tid000h4 SEND\r\nTo-Path: ${SERVER}\r\nFrom-Path: ${CLIENT}\r\nMessage-ID: m1\r\nByte-Range: 1-3/3\r\nContent-Type: text/plain\r\n\r\nabc\r\n-------tid000h4$\r\n`);
    for (const b of whole) t.conn.push(new Uint8Array([b])); // one byte at a time: the header check runs on every push after the blank line
    expect(t.refusals).toEqual([]);
    expect(t.isClosed()).toBe(false);
    expect(t.bound).toEqual([t.session]);
  });

  it('once its sessions have ended, a bound connection screens a header section for a new session like a fresh one', () => {
    const t = server();
    t.conn.push(bind(SERVER, CLIENT));
    t.session.close();
    t.conn.push(headers(SERVER.replace('Secret', 'Guess0'), CLIENT, 'tid000h5'));
    expect(t.out.map((f) => f.status)).toEqual([200, 481]);
    expect(t.isClosed()).toBe(true);
  });
});
