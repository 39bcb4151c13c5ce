/**
 * The port through which a retrieval reaches MSRP: the only part that differs between the browser (MSRP over
 * WebSocket, RFC 7977) and the CLI (also TCP, RFC 4975 §6, and TLS, §14). An adapter says what the offer's
 * `m=message` line and `a=path` are, then connects to the answer's path (active) or waits for the server (passive).
 */
import type { MsrpConnection, SessionDirectory } from '@imc/msrp';

/** Our side of the session, as the SDP offer states it (RFC 4975 §8, RFC 6135 a=setup). */
export interface MsrpOfferSide {
  /** The offer's a=path. */
  localPath: string;
  /** The m= line's protocol: `TCP/WS/MSRP`, `TCP/TLS/MSRP` or `TCP/MSRP`. */
  protocol: string;
  /** The m= line's port (9 when we connect: RFC 7977 §5, RFC 4145 §4). */
  port: number;
  /** active: we connect and bind with an empty SEND (RFC 4975 §5.4); passive: the server connects to us. */
  setup: 'active' | 'passive';
  /** The o= and c= lines' address. */
  address: string;
}

export interface MsrpTransport {
  /** Before the INVITE: our side of the session for `sessionId` (a passive transport starts listening here). */
  prepare(sessionId: string): Promise<MsrpOfferSide>;
  /**
   * After the 200 OK: the connection to the answer's `path` (active); or undefined when passive — the server
   * connects and its first request finds the session through `directory`.
   */
  connect(answer: { path: string; sdp: string }, directory: SessionDirectory): Promise<MsrpConnection | undefined>;
  /** Ends the connection and any listener. */
  close(): void;
}

/** The SDP offer for `side` (RFC 4975 §8): recvonly, CPIM and plain text accepted. `now` numbers the o= line. */
export function msrpOffer(side: MsrpOfferSide, now: number): string {
  return [
    'v=0',
    `o=- ${now} 1 IN IP4 ${side.address}`,
    's=-',
    `c=IN IP4 ${side.address}`,
    't=0 0',
    `m=message ${side.port} ${side.protocol} *`,
    `a=path:${side.localPath}`,
    'a=accept-types:message/cpim text/plain',
    'a=accept-wrapped-types:*',
    `a=setup:${side.setup}`,
    'a=recvonly',
    '',
  ].join('\r\n');
}
