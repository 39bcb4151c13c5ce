/**
 * SIP over TCP/TLS framing errors (RFC 3261 §18.3, §21.4.1): a request the stream framer refuses is answered with
 * the framer's verdict on its connection (Via, From, To, Call-ID, CSeq copied, §8.2.6), then the connection is
 * closed; bytes that cannot be framed as a request get the connection closed without an answer.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { findBinary } from '@imc/runtime';
import { TcpSipTransport, TcpSipTransportOptions, refusedRequest } from './tcp-sip-transport';

const MAX_HEADER = 1024;

const request = (callId: string, cseq: number, extra: string[] = [], contentLength: string | null = '0', end = '\r\n') =>
  [
    'MESSAGE sip:bob@example.com SIP/2.0',
    `Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK${callId};rport`,
    'From: <sip:alice@example.com>;tag=a1',
    'To: <sip:bob@example.com>',
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} MESSAGE`,
    'Max-Forwards: 70',
    ...extra,
    ...(contentLength === null ? [] : [`Content-Length: ${contentLength}`]),
    '',
  ].join('\r\n') + end;

const valid = (callId: string, body = 'hi') => request(callId, 1, ['Content-Type: text/plain'], String(body.length)) + body;

const padding = (bytes: number) => Array.from({ length: Math.ceil(bytes / 100) }, (_, i) => `X-Pad-${i}: ${'p'.repeat(90)}`);

interface Outcome {
  /** Everything the server sent before the connection closed. */
  text: string;
  /** The server ended the connection (our side never did). */
  closedByServer: boolean;
}

class Harness {
  readonly received: string[] = [];
  private serverBytes = 0;
  private readonly waiters: { n: number; resolve: () => void }[] = [];

  private constructor(readonly transport: TcpSipTransport, readonly port: number) {
    transport.onMessage((bytes) => this.received.push(Buffer.from(bytes).toString('utf8')));
    // counts what the server side has read, after the transport's own 'data' listener ran
    const server = (transport as unknown as { server: Server }).server;
    server.on(transport.name === 'TLS' ? 'secureConnection' : 'connection', (s: Socket) =>
      s.on('data', (d: Buffer) => {
        this.serverBytes += d.length;
        for (const w of this.waiters.splice(0)) if (this.serverBytes >= w.n) w.resolve();
        else this.waiters.push(w);
      }),
    );
  }

  static async start(opts: TcpSipTransportOptions = {}): Promise<Harness> {
    const t = new TcpSipTransport({ maxHeaderBytes: MAX_HEADER, maxBodyBytes: 64 * 1024, ...opts });
    const port = await t.listen(0, '127.0.0.1');
    return new Harness(t, port);
  }

  /** Resolves once the server has read `n` bytes in all (so these were framed before anything written later). */
  serverRead(n: number): Promise<void> {
    return this.serverBytes >= n ? Promise.resolve() : new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  /** Opens a connection, writes each part once the server has read the previous ones, and waits for the close. */
  async exchange(parts: (string | Buffer)[]): Promise<Outcome> {
    const tls = this.transport.name === 'TLS';
    const socket: Socket = await new Promise((resolve, reject) => {
      const s = tls ? tlsConnect({ host: '127.0.0.1', port: this.port, rejectUnauthorized: false }) : connect({ host: '127.0.0.1', port: this.port });
      s.once('error', reject);
      s.once(tls ? 'secureConnect' : 'connect', () => resolve(s));
    });
    const chunks: Buffer[] = [];
    let closedByServer = false;
    const closed = new Promise<void>((resolve) => {
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.on('end', () => (closedByServer = true));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve());
    });
    let sent = this.serverBytes;
    for (const p of parts) {
      const b = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
      await this.serverRead(sent);
      if (socket.destroyed) break;
      socket.write(b);
      sent += b.length;
    }
    await closed;
    return { text: Buffer.concat(chunks).toString('utf8'), closedByServer };
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}

function header(text: string, name: string): string | undefined {
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(text);
  return m?.[1].trim();
}

/** The one response that was sent: its status line, and the addressing headers copied from the request. */
function expectRefusal(out: Outcome, statusLine: string, callId: string, cseq: string) {
  expect(out.closedByServer).toBe(true);
  expect(out.text.split('\r\n')[0]).toBe(statusLine);
  expect(out.text.match(/^SIP\/2\.0 /gm)).toHaveLength(1);
  expect(out.text.endsWith('\r\n\r\n')).toBe(true);
  expect(header(out.text, 'Call-ID')).toBe(callId);
  expect(header(out.text, 'CSeq')).toBe(cseq);
  expect(header(out.text, 'From')).toBe('<sip:alice@example.com>;tag=a1');
  expect(header(out.text, 'To')).toMatch(/^<sip:bob@example\.com>;tag=\w+$/);
  // the top Via, stamped on receipt (RFC 3581 §4)
  expect(header(out.text, 'Via')).toMatch(new RegExp(`^SIP/2\\.0/TCP 192\\.0\\.2\\.1:5060;branch=z9hG4bK${callId};rport=\\d+;received=127\\.0\\.0\\.1$`));
  expect(header(out.text, 'Content-Length')).toBe('0');
}

describe('TcpSipTransport: a framing error is answered, then the connection closed', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await Harness.start();
  });
  afterEach(() => h.close());

  it('answers "Content-Length: 99999999999" with 400 Invalid Content-Length and closes', async () => {
    const out = await h.exchange([request('cl-huge', 7, [], '99999999999')]);
    expectRefusal(out, 'SIP/2.0 400 Invalid Content-Length', 'cl-huge', '7 MESSAGE');
    expect(h.received).toEqual([]);
  });

  it('answers a Content-Length over the body limit with 513 Message Too Large and closes', async () => {
    const out = await h.exchange([request('cl-big', 8, [], String(1024 * 1024))]);
    expectRefusal(out, 'SIP/2.0 513 Message Too Large', 'cl-big', '8 MESSAGE');
  });

  it('answers a request with no Content-Length with 400 Missing Content-Length Header and closes', async () => {
    const out = await h.exchange([request('cl-none', 9, [], null)]);
    expectRefusal(out, 'SIP/2.0 400 Missing Content-Length Header', 'cl-none', '9 MESSAGE');
  });

  it('answers a complete header section over the limit with 513 Message Too Large and closes', async () => {
    const out = await h.exchange([request('hdr-long', 10, padding(2 * MAX_HEADER))]);
    expectRefusal(out, 'SIP/2.0 513 Message Too Large', 'hdr-long', '10 MESSAGE');
  });

  it('answers a header section that grows past the limit without ending (sent in pieces) with 513 and closes', async () => {
    const text = request('hdr-endless', 11, padding(3 * MAX_HEADER), null, '');
    const parts = [text.slice(0, 300), text.slice(300, 900), text.slice(900, 1500), text.slice(1500)];
    const out = await h.exchange(parts);
    expectRefusal(out, 'SIP/2.0 513 Message Too Large', 'hdr-endless', '11 MESSAGE');
  });

  it('delivers the messages before the refused one (same chunk, keep-alives between) and answers the refused one', async () => {
    const out = await h.exchange([`\r\n\r\n${valid('ok-1')}\r\n${valid('ok-2', 'body two')}\r\n\r\n${request('bad-3', 3, [], '-1')}`]);
    // the two keep-alive pings (CRLFCRLF) were answered first
    expect(out.text.startsWith('\r\n\r\nSIP/2.0 ')).toBe(true);
    out.text = out.text.slice(4);
    expectRefusal(out, 'SIP/2.0 400 Invalid Content-Length', 'bad-3', '3 MESSAGE');
    expect(h.received).toEqual([valid('ok-1'), valid('ok-2', 'body two')]);
  });

  it('answers a refused request whose start came in earlier chunks, after a message split across chunks', async () => {
    const first = valid('ok-split', 'a body in two halves');
    const bad = request('bad-split', 4, padding(2 * MAX_HEADER), null, '');
    const stream = `${first}\r\n${bad}`;
    const cuts = [first.length - 5, first.length + 1, first.length + 40, first.length + 600, stream.length];
    const parts = cuts.map((c, i) => stream.slice(i ? cuts[i - 1] : 0, c));
    const out = await h.exchange(parts);
    expectRefusal(out, 'SIP/2.0 513 Message Too Large', 'bad-split', '4 MESSAGE');
    expect(h.received).toEqual([first]);
  });

  it.each([
    ['binary garbage past the header limit', Buffer.alloc(3 * MAX_HEADER, 0xa7)],
    ['text that is no SIP start line', 'HELLO THERE\r\nNot: sip\r\n\r\n'],
    ['a start line with no Via', 'OPTIONS sip:x@example.com SIP/2.0\r\nCall-ID: x\r\nContent-Length: 99999999999\r\n\r\n'],
    ['an ACK (never answered)', 'ACK sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\nCall-ID: ack\r\nCSeq: 1 ACK\r\nContent-Length: 99999999999\r\n\r\n'],
    ['a response with a bad Content-Length', 'SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\nCall-ID: r\r\nCSeq: 1 OPTIONS\r\nContent-Length: x\r\n\r\n'],
  ])('closes the connection without an answer on %s', async (_what, bytes) => {
    const out = await h.exchange([bytes]);
    expect(out.closedByServer).toBe(true);
    expect(out.text).toBe('');
  });

  it('a refused connection does not affect the others: keep-alives are answered, messages delivered', async () => {
    await h.exchange([request('bad', 1, [], '99999999999')]);
    const out = await new Promise<string>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: h.port }, () => s.write(`${valid('after')}\r\n\r\n`));
      s.on('data', (d) => {
        resolve(d.toString('latin1'));
        s.destroy();
      });
      s.on('error', reject);
    });
    expect(out).toBe('\r\n');
    expect(h.received).toEqual([valid('after')]);
  });

  it('with the default header limit (64 KiB), a 70 KB header section gets 513 Message Too Large', async () => {
    const d = await Harness.start({ maxHeaderBytes: undefined });
    try {
      const text = request('hdr-default', 12, padding(70 * 1000), null, '');
      const out = await d.exchange([text.slice(0, 30000), text.slice(30000)]);
      expectRefusal(out, 'SIP/2.0 513 Message Too Large', 'hdr-default', '12 MESSAGE');
    } finally {
      await d.close();
    }
  });
});

(findBinary('openssl') ? describe : describe.skip)('TcpSipTransport over TLS', () => {
  it('answers a framing error the same way, then closes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'imc-sip-tls-'));
    let h: Harness | undefined;
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      h = await Harness.start({ tls: { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) } });
      const out = await h.exchange([request('tls-cl', 5, [], '99999999999')]);
      expectRefusal(out, 'SIP/2.0 400 Invalid Content-Length', 'tls-cl', '5 MESSAGE');
    } finally {
      await h?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('refusedRequest', () => {
  const bytes = (s: string) => Buffer.from(s, 'latin1');

  it('parses the header section without its Content-Length (and folded continuation)', () => {
    const req = refusedRequest(bytes(request('r1', 2, [], '99999999999').replace('99999999999', '\r\n 99999999999')));
    expect(req?.method).toBe('MESSAGE');
    expect(req?.callId).toBe('r1');
    expect(req?.get('content-length')).toBeUndefined();
  });

  it('uses the whole lines within the header limit of a section that never ends', () => {
    const text = request('r2', 3, padding(4 * MAX_HEADER), null, '');
    const req = refusedRequest(bytes(text + 'X-Cut-Mid-Li'), MAX_HEADER);
    expect(req?.callId).toBe('r2');
    expect(req?.getAll('x-cut-mid-li') ?? []).toEqual([]);
  });

  it('gives nothing for a start line alone, garbage, or an empty buffer', () => {
    expect(refusedRequest(bytes('OPTIONS sip:x@example.com SIP/2.0\r\n\r\n'))).toBeUndefined();
    expect(refusedRequest(Buffer.alloc(5000, 0xff))).toBeUndefined();
    expect(refusedRequest(new Uint8Array(0))).toBeUndefined();
  });
});

describe('TcpSipTransport: bytes that are not SIP', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await Harness.start();
  });
  afterEach(() => h.close());

  it.each([
    ['an HTTP request whose header section never ends', 'GET / HTTP/1.1\r\nHost: x\r\n'],
    ['a TLS ClientHello on the plain port', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])],
  ])('closes at once, without an answer, on %s (it used to wait for more)', async (_what, bytes) => {
    const out = await h.exchange([bytes]);
    expect(out).toEqual({ text: '', closedByServer: true });
  });
});

describe('TcpSipTransport: slow senders', () => {
  function open(port: number): Promise<{ socket: Socket; text: () => string; closed: Promise<boolean> }> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      const chunks: Buffer[] = [];
      let byServer = false;
      const closed = new Promise<boolean>((r) => socket.on('close', () => r(byServer)));
      socket.on('data', (d) => chunks.push(d));
      socket.on('end', () => (byServer = true));
      socket.on('error', () => (byServer = true));
      socket.once('connect', () => resolve({ socket, text: () => Buffer.concat(chunks).toString('utf8'), closed }));
      socket.once('error', reject);
    });
  }

  it('a request whose body never arrives whole is answered 408 and closed when its time is up', async () => {
    const h = await Harness.start({ messageTimeoutMs: 150 });
    try {
      const started = Date.now();
      const out = await h.exchange([request('slow-body', 21, ['Content-Type: text/plain'], '100') + 'only part of it']);
      expectRefusal(out, 'SIP/2.0 408 Request Timeout', 'slow-body', '21 MESSAGE');
      expect(Date.now() - started).toBeLessThan(5000); // not the 5 s linger, nor an unbounded wait
      expect(h.transport.dropped.slow).toBe(1);
      expect(h.received).toEqual([]);
      await waitUntil(() => h.transport.size.connections === 0);
      expect(h.transport.size).toEqual({ connections: 0, partialSources: 0 });
    } finally {
      await h.close();
    }
  });

  it('a large message still arriving at a fair rate gets more time; it is delivered whole', async () => {
    const h = await Harness.start({ messageTimeoutMs: 300, maxBodyBytes: 1024 * 1024 });
    try {
      const body = 'x'.repeat(10 * 40 * 1024);
      const text = request('big-slow', 22, ['Content-Type: text/plain'], String(body.length)) + body;
      const c = await open(h.port);
      // a slow uplink, paced by the sender: 40 KiB every 60 ms, well above MIN_PROGRESS_BYTES per 300 ms period,
      // while the whole takes two or more periods
      const head = text.length - body.length;
      c.socket.write(text.slice(0, head));
      for (let i = 0; i < 10; i++) {
        c.socket.write(body.slice(i * 40 * 1024, (i + 1) * 40 * 1024));
        await new Promise((r) => setTimeout(r, 60));
      }
      await waitUntil(() => h.received.length === 1);
      expect(h.transport.dropped.slow).toBe(0);
      c.socket.destroy();
    } finally {
      await h.close();
    }
  });

  it('the clock is per message: whole messages keep a connection alive, a stalled header section does not', async () => {
    const h = await Harness.start({ messageTimeoutMs: 200 });
    try {
      const c = await open(h.port);
      for (let i = 0; i < 3; i++) {
        c.socket.write(valid(`quick-${i}`));
        await h.serverRead(valid('quick-0').length * (i + 1));
      }
      c.socket.write('MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1');
      expect(await c.closed).toBe(true);
      expect(h.received).toHaveLength(3);
      expect(c.text()).toBe(''); // no Via yet to answer along: closed without an answer
      expect(h.transport.dropped.slow).toBe(1);
    } finally {
      await h.close();
    }
  });

  it('at most maxPartialPerSource connections from one address hold a half-received message; the next is closed', async () => {
    const h = await Harness.start({ messageTimeoutMs: 0, maxPartialPerSource: 2 });
    try {
      const conns = await Promise.all([open(h.port), open(h.port), open(h.port)]);
      const half = request('half', 1, ['Content-Type: text/plain'], '10') + 'abc';
      let sent = 0;
      for (const c of conns.slice(0, 2)) {
        c.socket.write(half);
        sent += half.length;
        await h.serverRead(sent);
      }
      conns[2].socket.write(half);
      sent += half.length;
      expect(await conns[2].closed).toBe(true);
      await waitUntil(() => h.transport.size.connections === 2);
      expect(h.transport.dropped.perSource).toBe(1);
      expect(h.transport.size).toEqual({ connections: 2, partialSources: 1 });
      // finishing a message gives its slot back; a new half message from the same address is then taken
      conns[0].socket.write('defghij');
      await h.serverRead(sent + 7);
      expect(h.received).toHaveLength(1);
      const again = await open(h.port);
      again.socket.write(half);
      await h.serverRead(sent + 7 + half.length);
      expect(h.transport.dropped.perSource).toBe(1);
      for (const c of [conns[0], conns[1], again]) c.socket.destroy();
      await Promise.all([conns[0].closed, conns[1].closed, again.closed]);
      await waitUntil(() => h.transport.size.connections === 0);
      expect(h.transport.size).toEqual({ connections: 0, partialSources: 0 });
    } finally {
      await h.close();
    }
  });
});

/** Waits for a condition the server reaches on a socket event it does not expose (a close seen by the server). */
async function waitUntil(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setImmediate(r));
  }
}
