/**
 * The states of a retrieval session, the moves between them and why a session ended (retrieval-flow.md):
 *
 *                  INVITE → Reserving   (lease, pending list, ch2.reserve: steps 1–3)
 *   Reserving ──CANCEL (487)──▶ Cancelled ──reserve settled──▶ Ending (release what it reserved)
 *   Reserving ──reserve granted, 200 OK──▶ Answered (2xx retransmitted until the ACK; MSRP connect timer)
 *   Reserving ──refused (4xx/5xx), shutdown──▶ Ending
 *   Answered ──ACK and MSRP bound──▶ Delivering (steps 5–10, delivery-loop.ts)
 *   Answered ──no ACK (64·T1), no MSRP in time, BYE──▶ Ending
 *   Delivering ──every granted message settled──▶ Idle (idle timer)
 *   Delivering ──BYE, MSRP lost, debit refused, renewal failed──▶ Ending
 *   Idle ──idle timer, BYE──▶ Ending
 *   Ending ──BYE sent or answered, in-flight SENDs settled, release, lease dropped──▶ Ended
 *
 * A client BYE, a shutdown or an internal error can come in any state but Ended; Ending is left only for Ended,
 * and Ended is final. Any other move is a bug: `RetrievalSession.transition` throws IllegalTransitionError.
 */
export enum RetrievalState {
  /** INVITE received: taking the retrieval lease, reading the pending messages, reserving (steps 1–3). */
  Reserving = 'Reserving',
  /** CANCEL answered the INVITE with 487 while the reserve was on its way; what it reserves is given back. */
  Cancelled = 'Cancelled',
  /** 200 OK sent (step 4); waiting for the ACK and the MSRP connection. */
  Answered = 'Answered',
  /** ACK received and MSRP bound: sending the granted messages (steps 5–10). */
  Delivering = 'Delivering',
  /** Every granted message settled; the idle timer runs until a BYE. */
  Idle = 'Idle',
  /** Ending (step 11): BYE, settle what is in flight, release, drop the lease. */
  Ending = 'Ending',
  Ended = 'Ended',
}

const MOVES: Record<RetrievalState, readonly RetrievalState[]> = {
  [RetrievalState.Reserving]: [RetrievalState.Cancelled, RetrievalState.Answered, RetrievalState.Ending],
  [RetrievalState.Cancelled]: [RetrievalState.Ending],
  [RetrievalState.Answered]: [RetrievalState.Delivering, RetrievalState.Ending],
  [RetrievalState.Delivering]: [RetrievalState.Idle, RetrievalState.Ending],
  [RetrievalState.Idle]: [RetrievalState.Ending],
  [RetrievalState.Ending]: [RetrievalState.Ended],
  [RetrievalState.Ended]: [],
};

/** A move the state machine does not allow: a bug, never a client's doing. */
export class IllegalTransitionError extends Error {
  constructor(
    readonly from: RetrievalState,
    readonly to: RetrievalState,
    callId: string,
  ) {
    super(`retrieval ${callId}: invalid state transition ${from} → ${to}`);
    this.name = 'IllegalTransitionError';
  }
}

export function canMove(from: RetrievalState, to: RetrievalState): boolean {
  return MOVES[from].includes(to);
}

/** Why a session ended. Behaviour that depends on the end (the BYE grace, a server cut) depends on `kind`. */
export type EndReason =
  | { kind: 'client-bye' }
  | { kind: 'cancelled' }
  | { kind: 'refused'; status: number }
  | { kind: 'no-ack' }
  /** Never established in time, or our connection to the client's path failed or its binding was refused. */
  | { kind: 'no-msrp'; detail?: string }
  | { kind: 'msrp-lost' }
  | { kind: 'idle' }
  | { kind: 'shutdown' }
  | { kind: 'internal-error' }
  | { kind: 'renewal-failed' }
  | { kind: 'debit-not-confirmed' };

export const EndReasons = {
  clientBye: { kind: 'client-bye' },
  cancelled: { kind: 'cancelled' },
  noAck: { kind: 'no-ack' },
  msrpLost: { kind: 'msrp-lost' },
  idle: { kind: 'idle' },
  shutdown: { kind: 'shutdown' },
  internalError: { kind: 'internal-error' },
  renewalFailed: { kind: 'renewal-failed' },
  debitNotConfirmed: { kind: 'debit-not-confirmed' },
  refused: (status: number): EndReason => ({ kind: 'refused', status }),
  noMsrp: (detail?: string): EndReason => ({ kind: 'no-msrp', detail }),
} as const satisfies Record<string, EndReason | ((...a: never[]) => EndReason)>;

/**
 * The server itself cut the session short (shutdown, internal error): a SEND left unanswered is not the user's
 * doing, so it is treated as never sent (not charged; refunded under `before-send`).
 */
export function isServerCut(r: EndReason): boolean {
  return r.kind === 'shutdown' || r.kind === 'internal-error';
}

/** The log's words for a reason (the wording the logs had before reasons were values). */
export function describeEnd(r: EndReason): string {
  switch (r.kind) {
    case 'client-bye':
      return 'client BYE';
    case 'cancelled':
      return 'cancelled before answer';
    case 'refused':
      return `refused ${r.status}`;
    case 'no-ack':
      return 'no ACK for the 200 OK';
    case 'no-msrp':
      return r.detail ?? 'the MSRP connection was never established';
    case 'msrp-lost':
      return 'the MSRP connection was lost';
    case 'idle':
      return 'idle';
    case 'shutdown':
      return 'server shutting down';
    case 'internal-error':
      return 'internal error';
    case 'renewal-failed':
      return 'the reservation could not be renewed';
    case 'debit-not-confirmed':
      return 'the debit before sending was not confirmed';
  }
}
