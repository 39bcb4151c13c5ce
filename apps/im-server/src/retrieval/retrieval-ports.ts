/**
 * What a retrieval session uses of the rest of the server, and nothing more (STYLE.md habit 6): the store's lease,
 * pending list, bodies and deletion; the charging gateway's CH-2 operations; one MSRP leg; the SIP front's port.
 * The unit spec drives a session with fakes of these interfaces; the Redis/NATS end-to-end suites prove the real
 * ones (retrieval-flow.md).
 */
import type { MsrpMedia, OutgoingMessage, SendOutcome } from '@imc/msrp';
import type { ImServerConfig } from '../config';
import type { DeferredStore, StoredMessageMeta } from '../store/deferred-store';
import type { ChargingGateway } from '../charging/charging-gateway';
import type { ImMetrics } from '../observability/im-metrics';
import type { SipFrontPort } from '../sip/sip-port';
import type { MsrpListeners } from './msrp-endpoint';
import type { EndReason } from './retrieval-state';

/** The retrieval lease, the pending list, bodies and the deletion after a 200 (DeferredStore). */
export type RetrievalStore = Pick<DeferredStore, 'lockRetrieval' | 'refreshRetrievalLock' | 'unlockRetrieval' | 'pending' | 'body' | 'delete'>;

/** The CH-2 operations of a retrieval (ChargingGateway; requestIds from request-ids.ts); the balance for the AoC-E. */
export type RetrievalCharging = Pick<ChargingGateway, 'reserve' | 'debit' | 'release' | 'refund' | 'recordDeferredCharge' | 'balance'>;

export type RetrievalMetrics = Pick<ImMetrics, 'sipRequest' | 'inviteLatency' | 'msrpSend'>;

export type RetrievalConfig = Pick<
  ImServerConfig,
  | 'advertisedHost'
  | 'deferredUser'
  | 'chargingPolicy'
  | 'failureHandling'
  | 'chargingTimeoutMs'
  | 'reservationValiditySeconds'
  | 'msrpTimeoutMs'
  | 'msrpChunkSize'
  | 'msrpSendWindow'
  | 'msrpConnectTimeoutMs'
  | 'sessionIdleMs'
  | 'successReport'
  | 'msrpTls'
  | 'msrpSetup'
>;

/** The session's MSRP session (RFC 4975), registered so a connection to our path can bind to it. */
export interface MsrpLeg {
  readonly id: string;
  send(m: OutgoingMessage): Promise<SendOutcome>;
  /** We are the active side: connect to the client's path and bind with an empty SEND; the bind's status. */
  connect(media: MsrpMedia, onLost: () => void): Promise<number | 'timeout'>;
  /** The session is ending: nothing new is sent; responses to what was sent are still taken (MsrpSession.drain). */
  drain(): void;
  /** Closes the MSRP session (SENDs awaiting a response end as unanswered) and unregisters it. */
  close(): void;
  /** Ends the connection we opened, if any. */
  disconnect(): void;
}

export interface MsrpLegFactory {
  open(o: { localPath: string; remotePath: string; owner: string; chunkSize: number; transactionTimeoutMs: number }): MsrpLeg;
}

/** Told about each delivered message (after its MSRP 200 OK and its deletion) and about the end. */
export interface RetrievalObserver {
  delivered(meta: StoredMessageMeta): void;
  ended(summary: RetrievalSummary): void;
}

export interface RetrievalSummary {
  aor: string;
  callId: string;
  delivered: number;
  reason: EndReason;
}

export interface RetrievalDeps {
  config: RetrievalConfig;
  sip: SipFrontPort;
  store: RetrievalStore;
  charging: RetrievalCharging;
  metrics: RetrievalMetrics;
  msrp: MsrpLegFactory;
  msrpPorts: () => MsrpListeners;
  onEnded: (s: { readonly callId: string }) => void;
  /** The user's mailbox changed (message-summary NOTIFY to their subscriptions). */
  mailboxChanged: (aor: string) => void;
  log: (m: string) => void;
  observer?: RetrievalObserver;
}
