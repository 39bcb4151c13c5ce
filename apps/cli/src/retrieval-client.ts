/**
 * A SIP user's retrieval client, built from parts nobody here wrote for SIP (sip.js as the user agent) and the
 * project's MSRP library: REGISTER with digest, INVITE to the deferred-messaging URI with an MSRP offer, receive
 * the messages over MSRP (WebSocket, RFC 7977, or TCP), answer each one, BYE. Used by `imc retrieve` and tests.
 *
 * sip.js runs in Node when `globalThis.WebSocket` is the `ws` package's WebSocket (protocol-notes.md §8); its media
 * layer is replaced by a session-description handler that offers `m=message … TCP/WS/MSRP` (or TCP/MSRP).
 */
import { createServer, Server } from 'node:net';
import { WebSocket as WsWebSocket } from 'ws';
import { Inviter, Registerer, SessionState, UserAgent } from 'sip.js';
import type { SessionDescriptionHandlerFactory } from 'sip.js';
import { IncomingMessage, MsrpConnection, MsrpSession, newSessionId, unwrapCpim } from '@imc/msrp';
import { MsrpOfferHandler } from '../../web-client/src/msrp-offer';
import { connectMsrpTls, connectMsrpWs, nodeMsrpClock, nodeRandom } from '@imc/msrp-node';

export interface ReceivedMessage {
  from?: string;
  to?: string;
  dateTime?: string;
  imdnMessageId?: string;
  contentType?: string;
  text: string;
  raw: IncomingMessage;
}

export interface RetrieveOptions {
  /** ws://host:port of the server's SIP-over-WebSocket listener. */
  sipWsUrl: string;
  aor: string;
  password: string;
  /** Digest username (default: the AOR's user part). */
  username?: string;
  deferredUri?: string;
  /**
   * 'ws' (default), 'tcp' or 'tls' MSRP. Over TCP the client listens and the server connects (a=setup:passive); over
   * TLS (`msrps`, RFC 4975 §14) the client connects and checks the server's certificate against the answer's
   * a=fingerprint (RFC 4572), or against the trusted CAs (`tlsCa`) when the answer carries none.
   */
  msrp?: 'ws' | 'tcp' | 'tls';
  /** CA certificates (PEM) for an msrps server whose answer carries no fingerprint. */
  tlsCa?: string;
  /** Status to answer each message with (default 200); undefined = never answer (tests of the timeout). */
  answer?: (m: IncomingMessage, index: number) => number | undefined;
  /** Stop (send BYE) after this many messages; otherwise when the server hangs up or after `idleMs` of silence. */
  expect?: number;
  idleMs?: number;
  register?: boolean;
  onMessage?: (m: ReceivedMessage) => void;
  timeoutMs?: number;
}

export interface RetrieveResult {
  messages: ReceivedMessage[];
  /** Final status of the INVITE (200, or the refusal). */
  status: number;
  reason?: string;
  warning?: string;
  endedBy: 'client' | 'server' | 'refused';
}

function ensureWebSocket(): void {
  const g = globalThis as { WebSocket?: unknown };
  if (!g.WebSocket) g.WebSocket = WsWebSocket;
}

export async function retrieve(o: RetrieveOptions): Promise<RetrieveResult> {
  ensureWebSocket();
  const kind = o.msrp ?? 'ws';
  const domain = o.aor.split('@')[1];
  const username = o.username ?? o.aor.replace(/^sips?:/, '').split('@')[0];
  const cid = newSessionId(nodeRandom); // RFC 4975 §14.1: ≥ 80 random bits
  const messages: ReceivedMessage[] = [];
  let tcpServer: Server | undefined;
  let tcpPort = 9;
  const answerFn = o.answer;
  const clientPathBase = kind === 'ws' ? `msrp://${cid}.invalid:9/${cid};ws` : kind === 'tls' ? `msrps://${cid}.invalid:9/${cid};tcp` : '';
  let session: MsrpSession | undefined;
  let conn: MsrpConnection | undefined;
  let done!: (why: 'client' | 'server') => void;
  const finished = new Promise<'client' | 'server'>((r) => (done = r));
  let idle: NodeJS.Timeout | undefined;
  const armIdle = () => {
    if (!o.idleMs) return;
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => done('client'), o.idleMs);
  };
  const makeSession = (localPath: string, remotePath: string) => {
    const s = new MsrpSession({
      localPath,
      remotePath,
      clock: nodeMsrpClock,
      random: nodeRandom,
      answer: answerFn ? (m) => answerFn(m, messages.length) : undefined,
    });
    s.onMessage((m) => {
      const c = m.contentType.toLowerCase().startsWith('message/cpim') ? unwrapCpim(m.body) : undefined;
      const r: ReceivedMessage = {
        from: c?.from,
        to: c?.to,
        dateTime: c?.dateTime,
        imdnMessageId: c?.imdnMessageId,
        contentType: c?.contentType ?? m.contentType,
        text: new TextDecoder().decode(c ? c.body : m.body),
        raw: m,
      };
      messages.push(r);
      o.onMessage?.(r);
      armIdle();
      if (o.expect !== undefined && messages.length >= o.expect) done('client');
    });
    return s;
  };
  if (kind === 'tcp') {
    // passive TCP: listen for the server's connection (RFC 6135: our offer a=setup:passive → it answers active)
    tcpServer = createServer();
    await new Promise<void>((r) => tcpServer!.listen(0, '127.0.0.1', () => r()));
    tcpPort = (tcpServer.address() as { port: number }).port;
  }
  const localPath = kind === 'tcp' ? `msrp://127.0.0.1:${tcpPort}/${cid};tcp` : clientPathBase;
  const proto = kind === 'ws' ? 'TCP/WS/MSRP' : kind === 'tls' ? 'TCP/TLS/MSRP' : 'TCP/MSRP';
  const offer = [
    'v=0',
    `o=- ${Date.now()} 1 IN IP4 127.0.0.1`,
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=message ${kind === 'tcp' ? tcpPort : 9} ${proto} *`,
    `a=path:${localPath}`,
    'a=accept-types:message/cpim text/plain',
    'a=accept-wrapped-types:*',
    `a=setup:${kind === 'tcp' ? 'passive' : 'active'}`,
    'a=recvonly',
    '',
  ].join('\r\n');
  let handler: MsrpOfferHandler | undefined;
  const factory: SessionDescriptionHandlerFactory = () => (handler = new MsrpOfferHandler(offer));
  const ua = new UserAgent({
    uri: UserAgent.makeURI(o.aor),
    transportOptions: { server: o.sipWsUrl },
    authorizationUsername: username,
    authorizationPassword: o.password,
    sessionDescriptionHandlerFactory: factory,
    logBuiltinEnabled: !!process.env.IMC_SIPJS_LOG,
    logLevel: (process.env.IMC_SIPJS_LOG as 'error') ?? 'error',
  });
  const result: RetrieveResult = { messages, status: 0, endedBy: 'client' };
  try {
    await ua.start();
    if (o.register !== false) {
      const registerer = new Registerer(ua);
      await new Promise<void>((resolve, reject) => {
        registerer.stateChange.addListener((s) => (s === 'Registered' ? resolve() : undefined));
        registerer.register({ requestDelegate: { onReject: (r) => reject(new Error(`REGISTER refused: ${r.message.statusCode} ${r.message.reasonPhrase}`)) } }).catch(reject);
      });
    }
    const inviter = new Inviter(ua, UserAgent.makeURI(o.deferredUri ?? `sip:deferred@${domain}`)!);
    const established = new Promise<void>((resolve) => {
      inviter.stateChange.addListener((s) => {
        if (s === SessionState.Established) resolve();
        if (s === SessionState.Terminated) done('server');
      });
    });
    await inviter.invite({
      requestDelegate: {
        onReject: (r) => {
          result.status = r.message.statusCode ?? 0;
          result.reason = r.message.reasonPhrase;
          result.warning = r.message.getHeader('Warning');
          result.endedBy = 'refused';
          done('server');
        },
        onAccept: (r) => {
          result.status = r.message.statusCode ?? 200;
        },
      },
    });
    const first = await Promise.race([established.then(() => 'up' as const), finished]);
    if (first !== 'up') return result;
    // the answer tells where the server's MSRP endpoint is
    const answerPath = /a=path:(\S+)/.exec(handler?.answerSdp ?? '')?.[1];
    if (!answerPath) throw new Error('the 200 OK carried no a=path');
    session = makeSession(localPath, answerPath);
    const dir = { find: (id: string) => (id === cid ? session : undefined) };
    if (kind === 'ws') {
      const m = /^msrps?:\/\/([^/]+)\//.exec(answerPath)!;
      conn = await connectMsrpWs(`ws://${m[1]}`, dir);
      conn.adopt(session);
      await session.sendBind(); // RFC 7977: the WebSocket client is active and binds with an empty SEND
    } else if (kind === 'tls') {
      const m = /^msrps:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\//i.exec(answerPath);
      if (!m) throw new Error(`the answer to a TCP/TLS/MSRP offer carried no msrps path (${answerPath})`);
      const fp = /^a=fingerprint:(\S+) (\S+)/m.exec(handler?.answerSdp ?? '');
      const verifyPeer = fp
        ? (cert: { fingerprint256?: string; fingerprint?: string }) => {
            const got = fp[1].toLowerCase() === 'sha-256' ? cert.fingerprint256 : fp[1].toLowerCase() === 'sha-1' ? cert.fingerprint : undefined;
            return got?.toUpperCase() === fp[2].toUpperCase() ? undefined : new Error('the server certificate does not match the a=fingerprint of its answer (RFC 4572)');
          }
        : undefined;
      conn = await connectMsrpTls(m[1].replace(/^\[|\]$/g, ''), Number(m[2]), dir, {}, {}, { verifyPeer, ca: o.tlsCa });
      conn.adopt(session);
      await session.sendBind(); // the active side binds with an empty SEND (RFC 4975 §5.4)
    } else {
      tcpServer!.on('connection', (sock) => {
        const c = new MsrpConnection((b) => sock.write(b), () => sock.end(), dir);
        sock.on('data', (d: Buffer) => c.push(new Uint8Array(d.buffer, d.byteOffset, d.length)));
        sock.on('close', () => c.end());
        sock.on('error', () => sock.destroy());
        conn = c;
      });
    }
    armIdle();
    const timeout = new Promise<'client'>((r) => setTimeout(() => r('client'), o.timeoutMs ?? 30000).unref());
    result.endedBy = await Promise.race([finished, timeout]);
    if (result.endedBy === 'client' && inviter.state === SessionState.Established) await inviter.bye();
    return result;
  } finally {
    if (idle) clearTimeout(idle);
    session?.close();
    conn?.end();
    tcpServer?.close();
    // sip.js 0.21 in Node may wait forever on a WebSocket close handshake the server no longer answers: bounded
    await Promise.race([ua.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
  }
}
