/** A flow: where a SIP message came from and how to answer on the same path (RFC 3261 §18.2.2, RFC 5626 §3). */
export type SipTransportName = 'UDP' | 'TCP' | 'TLS' | 'WS' | 'WSS';

export interface SipFlow {
  readonly transport: SipTransportName;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Stable id of the connection (or of the UDP peer address). */
  readonly id: string;
  readonly reliable: boolean;
  send(bytes: Uint8Array): void;
  /** False once a connection-oriented flow has closed. */
  readonly open: boolean;
  /** Calls `fn` once when a connection-oriented flow closes (so that whoever keeps it can let go); UDP: never. */
  onClose?(fn: () => void): void;
}

export type SipInbound = (bytes: Uint8Array, flow: SipFlow) => void;

export interface SipTransport {
  readonly name: SipTransportName;
  readonly port: number;
  onMessage(handler: SipInbound): void;
  /** A flow to a remote address: an existing connection if one is open, else a new one (UDP: a datagram path). */
  flowTo(host: string, port: number): Promise<SipFlow>;
  close(): Promise<void>;
}
