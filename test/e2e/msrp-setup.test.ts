/**
 * MSRP_SETUP (issue 11): which side opens the MSRP-over-TCP connection when the client offers `a=setup:actpass`.
 * RFC 6135 / RFC 4145 §4.1 let the answerer choose; the im-server answers `active` by default and connects to the
 * client's path. In a container (Docker's bridge network, behind NAT) it may not reach the client, so
 * MSRP_SETUP=passive answers `passive`: the client connects to the server's path, through the published port.
 * A raw SIP-over-TCP client offers actpass and listens on its own MSRP path, to see who connects.
 */
import { randomBytes } from 'node:crypto';
import { AddressInfo, connect as tcpConnect, createServer, Server, Socket } from 'node:net';
import { MsrpConnection, MsrpSession } from '@imc/msrp';
import { nodeMsrpClock, nodeRandom } from '@imc/msrp-node';
import { parseSipMessage, SipResponse, SipStreamFramer } from '@imc/sip';
import { loadImServerConfig } from '../../apps/im-server/src/config';
import { deposit, provision, Stack, startStack, uniqueUser } from '../support/stack-harness';

/** One SIP-over-TCP dialog of a client that offers actpass; its MSRP listener records whether the server dials in. */
class ActpassClient {
  private framer = new SipStreamFramer();
  private responses: SipResponse[] = [];
  private waiting?: (r: SipResponse) => void;
  private sip!: Socket;
  readonly listener: Server = createServer();
  /** Resolves with the first connection the server opens to our MSRP path. */
  readonly dialedIn: Promise<Socket> = new Promise((r) => this.listener.once('connection', r));
  readonly callId = randomBytes(8).toString('hex');
  readonly tag = randomBytes(4).toString('hex');
  localPath = '';

  constructor(private readonly aor: string) {}

  async open(sipPort: number): Promise<void> {
    await new Promise<void>((r) => this.listener.listen(0, '127.0.0.1', r));
    const port = (this.listener.address() as AddressInfo).port;
    this.localPath = `msrp://127.0.0.1:${port}/${randomBytes(6).toString('hex')};tcp`;
    this.sip = await new Promise<Socket>((r) => {
      const s = tcpConnect(sipPort, '127.0.0.1', () => r(s));
    });
    this.sip.on('data', (d: Buffer) => {
      for (const ev of this.framer.push(new Uint8Array(d.buffer, d.byteOffset, d.length))) {
        if (ev.type !== 'message') continue;
        const p = parseSipMessage(ev.bytes);
        if (!p.ok || !(p.message instanceof SipResponse) || p.message.status < 200) continue;
        if (this.waiting) this.waiting(p.message);
        else this.responses.push(p.message);
      }
    });
  }

  private send(method: string, cseq: number, extra: string, body = '', to = '<sip:deferred@example.com>'): void {
    const via = `SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK${randomBytes(6).toString('hex')};rport`;
    this.sip.write(
      `${method} sip:deferred@example.com SIP/2.0\r\nVia: ${via}\r\nMax-Forwards: 70\r\nFrom: <${this.aor}>;tag=${this.tag}\r\nTo: ${to}\r\n` +
        `Call-ID: ${this.callId}\r\nCSeq: ${cseq} ${method}\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }

  private next(): Promise<SipResponse> {
    const r = this.responses.shift();
    return r ? Promise.resolve(r) : new Promise((resolve) => (this.waiting = (m) => ((this.waiting = undefined), resolve(m))));
  }

  /** INVITE with an actpass offer; ACKs the 200 and returns it. */
  async invite(): Promise<SipResponse> {
    const port = Number(/:(\d+)\//.exec(this.localPath)![1]);
    const sdp = `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message ${port} TCP/MSRP *\r\na=path:${this.localPath}\r\na=accept-types:message/cpim\r\na=setup:actpass\r\n`;
    this.send('INVITE', 1, `Contact: <${this.aor.replace('@example.com', '@127.0.0.1:9')};transport=tcp>\r\nContent-Type: application/sdp\r\n`, sdp);
    const ok = await this.next();
    if (ok.status === 200) this.send('ACK', 1, '', '', ok.get('to')!);
    return ok;
  }

  async bye(to: string): Promise<number> {
    this.send('BYE', 2, '', '', to);
    return (await this.next()).status;
  }

  close(): void {
    this.sip?.destroy();
    this.listener.close();
  }
}

/** The MSRP side once a TCP connection exists (either direction): bind and collect the messages. */
function msrpOver(sock: Socket, localPath: string, remotePath: string, active: boolean) {
  const texts: string[] = [];
  let gotOne!: () => void;
  const first = new Promise<void>((r) => (gotOne = r));
  const session = new MsrpSession({ localPath, remotePath, clock: nodeMsrpClock, random: nodeRandom });
  session.onMessage((m) => {
    texts.push(new TextDecoder().decode(m.body));
    gotOne();
  });
  const conn = new MsrpConnection((b) => sock.write(b), () => sock.end(), { find: () => session });
  sock.on('data', (d: Buffer) => conn.push(new Uint8Array(d.buffer, d.byteOffset, d.length)));
  if (active) {
    conn.adopt(session);
    void session.sendBind();
  }
  return { texts, first, close: () => session.close() };
}

describe.each([
  ['passive', 'the client connects to the server'],
  ['default', 'the server connects to the client (RFC 6135 answer: active)'],
] as const)('MSRP_SETUP=%s, actpass offer over TCP: %s', (mode, _what) => {
  let s: Stack;
  let aor: string;
  beforeAll(async () => {
    s = await startStack({ im: { SIP_AUTH: 'none', ...(mode === 'passive' ? { MSRP_SETUP: 'passive' } : {}) } });
    aor = await provision(s, uniqueUser('setup'), 1000);
  });
  afterAll(() => s.close());

  it('answers the setup it is configured for and delivers the message', async () => {
    await deposit(s, aor, 'sip:alice@example.com', `hello ${mode}`);
    const c = new ActpassClient(aor);
    await c.open(Number(s.env.SIP_TCP_PORT));
    try {
      const ok = await c.invite();
      expect(ok.status).toBe(200);
      const sdp = ok.bodyText();
      const serverPath = /a=path:(\S+)/.exec(sdp)![1];
      let msrp: ReturnType<typeof msrpOver>;
      if (mode === 'passive') {
        expect(sdp).toMatch(/^a=setup:passive\r?$/m);
        const [, host, port] = /^msrp:\/\/([^:/]+):(\d+)\//.exec(serverPath)!;
        const sock = await new Promise<Socket>((r) => {
          const x = tcpConnect(Number(port), host, () => r(x));
        });
        msrp = msrpOver(sock, c.localPath, serverPath, true);
      } else {
        expect(sdp).toMatch(/^a=setup:active\r?$/m);
        msrp = msrpOver(await c.dialedIn, c.localPath, serverPath, false);
      }
      await msrp.first;
      expect(msrp.texts.join('')).toContain(`hello ${mode}`);
      expect(await c.bye(ok.get('to')!)).toBe(200);
      msrp.close();
      // in passive mode the server never dialled our listener
      if (mode === 'passive') expect(await Promise.race([c.dialedIn.then(() => 'dialled'), Promise.resolve('not dialled')])).toBe('not dialled');
    } finally {
      c.close();
    }
  });
});

describe('MSRP_SETUP configuration', () => {
  const env = { NODE_ENV: 'development' };
  it('defaults to active, takes passive, and refuses anything else naming the variable', () => {
    expect(loadImServerConfig(env).msrpSetup).toBe('active');
    expect(loadImServerConfig({ ...env, MSRP_SETUP: 'passive' }).msrpSetup).toBe('passive');
    expect(() => loadImServerConfig({ ...env, MSRP_SETUP: 'actpass' })).toThrow(/invalid configuration: MSRP_SETUP must be one of active, passive/);
  });
});
