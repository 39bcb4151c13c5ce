/**
 * The SIP front's ports: what a request handler (registrar, pager deposit, message-summary, the retrieval gate) and
 * a retrieval session may ask of the SIP front (`sip-front.ts`). They depend on these interfaces only, never on the
 * class behind them: sending, in-dialog requests, the clock, the protocol timers and the random source; and, for
 * the two handlers that need it, the connection registry and the transaction layer's INVITE lookup.
 */
import type { Clock, Dialog, InviteServerTransaction, RandomSource, SipRequest, SipTimers, TransactionSink } from '@imc/sip';
import type { SipFlow } from '@imc/sip-node';

export interface SipFrontPort {
  /** The clock every SIP timer runs on (a fake one in unit specs). */
  readonly clock: Clock;
  /** T1, T2, T4 (RFC 3261 §17) as configured. */
  readonly timers: SipTimers;
  /** Tags, branches and Call-IDs (RFC 3261 §19.3). */
  readonly random: RandomSource;
  /** The Via sent-by (and Contact port) for a request or answer we send on a flow. */
  viaFor(flow: SipFlow): { transport: string; host: string; port: number };
  /** Where a transaction writes for a flow. */
  sinkFor(flow: SipFlow): TransactionSink;
  /** Sends a request we originate on a flow through a client transaction: the final status, or 'timeout'. */
  send(req: SipRequest, flow: SipFlow): Promise<number | 'timeout'>;
  /**
   * Sends an in-dialog request (BYE, NOTIFY) built from the dialog, with a body when given (the AoC-E of a BYE):
   * the final status, or 'timeout'.
   */
  sendInDialog(dialog: Dialog, flow: SipFlow, method: string, body?: InDialogBody): Promise<number | 'timeout'>;
}

/** A body for an in-dialog request. */
export interface InDialogBody {
  contentType: string;
  body: Uint8Array;
}

/** Where a registered contact was reached from (a registrar binding, RFC 3261 §10.3). */
export interface ContactFlow {
  flowId: string;
  transport: string;
  address: string;
  port: number;
}

/** What the front also knows that some handlers need: its open connections and its pending INVITE transactions. */
export interface SipFrontLookups {
  /** The open flow a contact registered on (a connection it still holds, or a UDP flow to its address); none when gone. */
  flowTo(contact: ContactFlow): Promise<SipFlow | undefined>;
  /** The pending INVITE server transaction a CANCEL matches (RFC 3261 §9.2). */
  inviteFor(cancel: SipRequest): InviteServerTransaction | undefined;
}

/** Puts `body` (when given) in a request we originate, with its Content-Type. */
export function withBody(req: SipRequest, body: InDialogBody | undefined): SipRequest {
  if (!body) return req;
  req.set('Content-Type', body.contentType);
  req.body = body.body;
  return req;
}
