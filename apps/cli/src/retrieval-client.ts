/**
 * `imc retrieve` (and the tests): one SIP user's retrieval with `@imc/retrieval-client` — REGISTER with digest,
 * INVITE to the deferred-messaging URI with an MSRP offer, receive the messages over MSRP (WebSocket, RFC 7977; TCP;
 * or TLS), answer each one, BYE — over the library's Node transports, clock and random source.
 */
import { nodeMsrpClock, nodeRandom } from '@imc/msrp-node';
import { ReceivedMessage, retrieveDeferred, RetrievalOptions, RetrievalResult, SipUser } from '@imc/retrieval-client';
import { installNodeWebSocket, NodeTcpMsrpTransport, NodeTlsMsrpTransport, NodeWebSocketMsrpTransport } from '@imc/retrieval-client/node';

export type { ReceivedMessage };
export type RetrieveResult = RetrievalResult;

/** The retrieval's own options (answer, expect, idleMs, timeoutMs, onMessage, deferredUri) and the user's. */
export interface RetrieveOptions extends Pick<RetrievalOptions, 'deferredUri' | 'answer' | 'expect' | 'idleMs' | 'timeoutMs' | 'onMessage' | 'adviceOfCharge'> {
  /** ws://host:port of the server's SIP-over-WebSocket listener. */
  sipWsUrl: string;
  aor: string;
  password: string;
  /** Digest username (default: the AOR's user part). */
  username?: string;
  /**
   * 'ws' (default), 'tcp' or 'tls' MSRP. Over TCP the client listens and the server connects (a=setup:passive); over
   * TLS (`msrps`, RFC 4975 §14) the client connects and checks the server's certificate against the answer's
   * a=fingerprint (RFC 4572), or against the trusted CAs (`tlsCa`) when the answer carries none.
   */
  msrp?: 'ws' | 'tcp' | 'tls';
  /** CA certificates (PEM) for an msrps server whose answer carries no fingerprint. */
  tlsCa?: string;
  /** REGISTER first (default true). */
  register?: boolean;
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
