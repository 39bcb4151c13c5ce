/** What the SIP front hands to the parts that handle requests (the router and the handlers in `handlers/`), and the retrieval side's boundary. */
import type { InviteServerTransaction, NonInviteServerTransaction, SipRequest, SipResponse, TransactionSink } from '@imc/sip';
import type { SipFlow } from '@imc/sip-node';

export interface ServerTx {
  request: SipRequest;
  flow: SipFlow;
  sink: TransactionSink;
  tx: InviteServerTransaction | NonInviteServerTransaction;
  respond(status: number, reason?: string, opts?: { headers?: [string, string][]; body?: Uint8Array; contentType?: string; toTag?: string }): SipResponse;
}

/** The retrieval side of the boundary: INVITE/ACK/BYE/CANCEL of dialogs with the deferred-messaging URI. */
export interface RetrievalHandler {
  onInvite(tx: ServerTx, aor: string): Promise<void>;
  /** An ACK for a 2xx (the transaction layer passed it up); false when no dialog matches. */
  onAck(req: SipRequest): boolean;
  /** In-dialog BYE; false when no dialog matches (→ 481). */
  onBye(tx: ServerTx): boolean;
  /** CANCEL of a pending INVITE; false when none matches or it was already answered. */
  onCancel(inviteTx: InviteServerTransaction): boolean;
  /** Sessions in progress (metrics, shutdown). */
  readonly activeSessions: number;
  shutdown(deadlineMs: number): Promise<void>;
}
