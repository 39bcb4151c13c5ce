/**
 * `imc retrieve` (and the tests): one SIP user's retrieval with `@imc/retrieval-client` — REGISTER with digest,
 * INVITE to the deferred-messaging URI with an MSRP offer, receive the messages over MSRP (WebSocket, RFC 7977; TCP;
 * or TLS), answer each one, BYE — over the library's Node transports, clock and random source.
 */
import { IncomingMessage } from '@imc/msrp';
import { nodeMsrpClock, nodeRandom } from '@imc/msrp-node';
import { ReceivedMessage, retrieveDeferred, RetrievalResult, SipUser } from '@imc/retrieval-client';
import {
  installNodeWebSocket,
  NodeTcpMsrpTransport,
  NodeTlsMsrpTransport,
  NodeWebSocketMsrpTransport,
} from '@imc/retrieval-client/node-msrp-transports';

export type { ReceivedMessage };
export type RetrieveResult = RetrievalResult;

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

export async function retrieve(o: RetrieveOptions): Promise<RetrieveResult> {
  installNodeWebSocket();
  const kind = o.msrp ?? 'ws';
  const transport = kind === 'tcp' ? new NodeTcpMsrpTransport() : kind === 'tls' ? new NodeTlsMsrpTransport(o.tlsCa) : new NodeWebSocketMsrpTransport();
  const user = new SipUser({
    sipWsUrl: o.sipWsUrl,
    aor: o.aor,
    password: o.password,
    username: o.username,
    clock: nodeMsrpClock,
    logBuiltin: !!process.env.IMC_SIPJS_LOG,
    logLevel: (process.env.IMC_SIPJS_LOG as 'error') ?? 'error',
  });
  try {
    await user.start();
    if (o.register !== false) await user.register();
    return await retrieveDeferred(user, { ...o, transport, clock: nodeMsrpClock, random: nodeRandom });
  } finally {
    await user.stop(1000);
  }
}
