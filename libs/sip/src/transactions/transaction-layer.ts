/**
 * Matches incoming messages to transactions (RFC 3261 §17.2.3 for requests: top Via branch + sent-by + method,
 * ACK matching its INVITE, CANCEL a transaction of its own; §17.1.3 for responses: branch + CSeq method) and keeps
 * the live ones. The TU gets only what the transactions pass up.
 */
import type { Clock } from '../clock';
import { SipRequest, SipResponse } from '../sip-message';
import { InviteServerTransaction, InviteServerEvents, InviteServerState } from './invite-server-transaction';
import { NonInviteServerTransaction } from './non-invite-server-transaction';
import { NonInviteClientTransaction } from './non-invite-client-transaction';
import { SipTimers, TransactionSink } from './timers';

export const MAGIC_COOKIE = 'z9hG4bK';

export type IncomingRequestVerdict =
  | { kind: 'new-invite'; tx: InviteServerTransaction }
  | { kind: 'new'; tx: NonInviteServerTransaction }
  | { kind: 'ack'; tx?: InviteServerTransaction } // ACK for a 2xx (or unmatched): goes to the TU
  | { kind: 'absorbed' } // a retransmission or a non-2xx ACK, handled by its transaction
  | { kind: 'overloaded' }; // no room for another transaction: answer 503 statelessly (§21.5.4)

export interface TransactionLayerLimits {
  /**
   * Server transactions alive at once. Each leaves by its own timers (Timer J/H/I/L on the injected clock, RFC 3261
   * §17.2), so the map is bounded in time; this bounds it in size too, against a flood faster than 64·T1 drains.
   */
  maxServerTransactions?: number;
}

export const DEFAULT_MAX_SERVER_TRANSACTIONS = 100_000;

function serverKey(req: SipRequest, method: string): string | undefined {
  const via = req.topVia;
  if (!via?.branch || !via.branch.startsWith(MAGIC_COOKIE)) return undefined;
  return `${via.branch}|${via.host}:${via.port ?? ''}|${method}`;
}

export class TransactionLayer {
  private readonly servers = new Map<string, InviteServerTransaction | NonInviteServerTransaction>();
  private readonly clients = new Map<string, NonInviteClientTransaction>();

  /** Makes every legacy (cookie-less) request's key unique: a counter, nothing random is needed. */
  private legacySeq = 0;
  private readonly maxServer: number;

  constructor(private readonly clock: Clock, readonly timers: SipTimers, limits: TransactionLayerLimits = {}) {
    this.maxServer = limits.maxServerTransactions ?? DEFAULT_MAX_SERVER_TRANSACTIONS;
  }

  get size(): { server: number; client: number } {
    return { server: this.servers.size, client: this.clients.size };
  }

  receiveRequest(req: SipRequest, sink: TransactionSink, inviteEvents: InviteServerEvents = {}): IncomingRequestVerdict {
    if (req.method === 'ACK') {
      const k = serverKey(req, 'INVITE');
      const tx = k ? this.servers.get(k) : undefined;
      if (tx instanceof InviteServerTransaction && tx.onAck()) return { kind: 'absorbed' };
      return { kind: 'ack', tx: tx instanceof InviteServerTransaction ? tx : undefined };
    }
    const k = serverKey(req, req.method);
    // RFC 2543 peers without the magic cookie: a transaction of their own every time (no retransmission matching)
    const key = k ?? `legacy|${req.callId}|${req.get('cseq')}|${req.get('from')}|${++this.legacySeq}`;
    const existing = this.servers.get(key);
    if (existing) {
      existing.onRetransmission();
      return { kind: 'absorbed' };
    }
    if (this.servers.size >= this.maxServer) return { kind: 'overloaded' };
    if (req.method === 'INVITE') {
      const tx = new InviteServerTransaction(req, sink, this.clock, this.timers, {
        ...inviteEvents,
        onTerminated: () => {
          this.servers.delete(key);
          inviteEvents.onTerminated?.();
        },
      });
      this.servers.set(key, tx);
      return { kind: 'new-invite', tx };
    }
    const tx = new NonInviteServerTransaction(req, sink, this.clock, this.timers, () => this.servers.delete(key));
    this.servers.set(key, tx);
    return { kind: 'new', tx };
  }

  /** The INVITE server transaction a CANCEL refers to (same branch, §9.2). */
  findInviteFor(cancel: SipRequest): InviteServerTransaction | undefined {
    const k = serverKey(cancel, 'INVITE');
    const tx = k ? this.servers.get(k) : undefined;
    return tx instanceof InviteServerTransaction && tx.state !== InviteServerState.Terminated ? tx : undefined;
  }

  /** Sends a request the server originates through a new non-INVITE client transaction. */
  sendRequest(req: SipRequest, sink: TransactionSink): NonInviteClientTransaction {
    const via = req.topVia;
    if (!via?.branch) throw new Error('a request sent through a client transaction needs a top Via with a branch');
    const key = `${via.branch}|${req.method}`;
    const tx = new NonInviteClientTransaction(req, sink, this.clock, this.timers, () => this.clients.delete(key));
    this.clients.set(key, tx);
    return tx;
  }

  /** Passes a response to its client transaction; false when none matches (a stray response, dropped). */
  receiveResponse(res: SipResponse): boolean {
    const branch = res.topVia?.branch;
    const tx = branch ? this.clients.get(`${branch}|${res.cseq.method}`) : undefined;
    if (!tx) return false;
    tx.onResponse(res);
    return true;
  }
}
