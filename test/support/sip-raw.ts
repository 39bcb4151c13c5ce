/**
 * A hand-driven SIP user agent over one TCP connection for tests that need to see and shape the SDP themselves:
 * sends requests as written, frames what comes back by Content-Length (RFC 3261 §18.3), answers the server's BYE.
 */
import { connect, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface RawSipMessage {
  startLine: string;
  headers: Map<string, string>;
  body: string;
}

export class RawSipTcp {
  private buf = '';
  private readonly got: RawSipMessage[] = [];
  private seen = 0;
  private waiters: (() => void)[] = [];

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      for (;;) {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) break;
        const head = this.buf.slice(0, end).split('\r\n');
        const headers = new Map<string, string>();
        for (const l of head.slice(1)) {
          const i = l.indexOf(':');
          headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
        }
        const len = Number(headers.get('content-length') ?? 0);
        if (this.buf.length < end + 4 + len) break;
        const m = { startLine: head[0], headers, body: this.buf.slice(end + 4, end + 4 + len) };
        this.buf = this.buf.slice(end + 4 + len);
        if (m.startLine.startsWith('BYE ')) this.answer(m, 200, 'OK');
        this.got.push(m);
      }
      this.waiters.splice(0).forEach((w) => w());
    });
    sock.on('error', () => undefined);
  }

  static open(port: number): Promise<RawSipTcp> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new RawSipTcp(s)));
      s.once('error', reject);
    });
  }

  send(text: string): void {
    this.sock.write(text);
  }

  /** The next message (after those already taken) whose start line matches. */
  next(start: RegExp, timeoutMs = 5000): Promise<RawSipMessage> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${start} within ${timeoutMs} ms; got ${this.got.map((m) => m.startLine).join(' | ')}`)), timeoutMs);
      const check = () => {
        while (this.seen < this.got.length) {
          const m = this.got[this.seen++];
          if (start.test(m.startLine)) {
            clearTimeout(t);
            return resolve(m);
          }
        }
        this.waiters.push(check);
      };
      check();
    });
  }

  private answer(req: RawSipMessage, status: number, reason: string): void {
    const h = (n: string) => req.headers.get(n) ?? '';
    this.send(`SIP/2.0 ${status} ${reason}\r\nVia: ${h('via')}\r\nFrom: ${h('from')}\r\nTo: ${h('to')}\r\nCall-ID: ${h('call-id')}\r\nCSeq: ${h('cseq')}\r\nContent-Length: 0\r\n\r\n`);
  }

  close(): void {
    this.sock.destroy();
  }
}

/**
 * INVITE sip:deferred@example.com with `sdp`, as `aor` asserted by a trusted proxy (P-Asserted-Identity), then ACK
 * the 200. Resolves with the final response.
 */
export async function inviteDeferred(sip: RawSipTcp, aor: string, sdp: string): Promise<RawSipMessage> {
  const callId = randomBytes(8).toString('hex');
  const tag = randomBytes(4).toString('hex');
  const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
  sip.send(
    `INVITE sip:deferred@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=${branch};rport\r\nMax-Forwards: 70\r\n` +
      `From: <${aor}>;tag=${tag}\r\nTo: <sip:deferred@example.com>\r\nCall-ID: ${callId}\r\nCSeq: 1 INVITE\r\n` +
      `P-Asserted-Identity: <${aor}>\r\nContact: <sip:x@127.0.0.1:9;transport=tcp>\r\nContent-Type: application/sdp\r\nContent-Length: ${Buffer.byteLength(sdp)}\r\n\r\n${sdp}`,
  );
  const final = await sip.next(/^SIP\/2\.0 [2-6]\d\d /);
  if (final.startLine.startsWith('SIP/2.0 2')) {
    const target = /<([^>]+)>/.exec(final.headers.get('contact') ?? '')?.[1] ?? 'sip:deferred@example.com';
    sip.send(
      `ACK ${target} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK${randomBytes(6).toString('hex')};rport\r\nMax-Forwards: 70\r\n` +
        `From: <${aor}>;tag=${tag}\r\nTo: ${final.headers.get('to')}\r\nCall-ID: ${callId}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`,
    );
  }
  return final;
}

/** An SDP offer for an MSRP retrieval. */
export function msrpOffer(o: { proto: string; path: string; setup: 'active' | 'passive' | 'actpass'; port?: number; fingerprint?: string }): string {
  return [
    'v=0',
    'o=- 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=message ${o.port ?? 9} ${o.proto} *`,
    `a=path:${o.path}`,
    'a=accept-types:message/cpim text/plain',
    `a=setup:${o.setup}`,
    ...(o.fingerprint ? [`a=fingerprint:${o.fingerprint}`] : []),
    'a=recvonly',
    '',
  ].join('\r\n');
}

/**
 * A retrieval dialog over a raw SIP connection, the identity asserted by a trusted proxy (P-Asserted-Identity): the
 * INVITE with an offer of `clientPath`, the ACK of its 200, and a BYE to send later. Rejects unless answered 200.
 */
export async function retrievalDialog(sip: RawSipTcp, aor: string, clientPath: string, setup: 'active' | 'passive' | 'actpass' = 'active') {
  const callId = randomBytes(8).toString('hex');
  const tag = randomBytes(4).toString('hex');
  const sdp = msrpOffer({ proto: 'TCP/MSRP', path: clientPath, setup });
  const head = (method: string, cseq: number, to: string) =>
    `${method} sip:deferred@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK${randomBytes(6).toString('hex')};rport\r\nMax-Forwards: 70\r\n` +
    `From: <${aor}>;tag=${tag}\r\nTo: ${to}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} ${method}\r\nP-Asserted-Identity: <${aor}>\r\n`;
  sip.send(`${head('INVITE', 1, '<sip:deferred@example.com>')}Contact: <sip:x@127.0.0.1:9;transport=tcp>\r\nContent-Type: application/sdp\r\nContent-Length: ${Buffer.byteLength(sdp)}\r\n\r\n${sdp}`);
  const ok = await sip.next(/^SIP\/2\.0 [2-6]\d\d /);
  if (ok.startLine !== 'SIP/2.0 200 OK') throw new Error(`INVITE answered ${ok.startLine}`);
  const to = ok.headers.get('to')!;
  sip.send(`${head('ACK', 1, to)}Content-Length: 0\r\n\r\n`);
  return {
    serverPath: /a=path:(\S+)/.exec(ok.body)![1],
    bye: async () => {
      sip.send(`${head('BYE', 2, to)}Content-Length: 0\r\n\r\n`);
      return (await sip.next(/^SIP\/2\.0 \d+ /)).startLine;
    },
  };
}
