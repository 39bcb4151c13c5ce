/** RFC 3261 §17.1.1.1 / Table 4 timer values; configurable so tests run in milliseconds. */
export interface SipTimers {
  /** RTT estimate (default 500 ms). */
  T1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses (default 4 s). */
  T2: number;
  /** Maximum duration a message remains in the network (default 5 s). */
  T4: number;
}

export const DEFAULT_TIMERS: SipTimers = { T1: 500, T2: 4000, T4: 5000 };

/** Where a transaction sends bytes: the flow it was created on (the transport adapter knows how). */
export interface TransactionSink {
  send(bytes: Uint8Array): void;
  /** True for TCP/TLS/WS (no retransmissions, zero-length wait timers, RFC 3261 §17). */
  readonly reliable: boolean;
}
