/**
 * Every CH-2 requestId a retrieval makes, built in one place (ch2-contract.md "Idempotent"; retrieval-flow.md
 * "Charged once, whatever crashes"). Each is derived from what it settles, never random, so a retried request is
 * the same request: the enabler answers a replay from its record instead of charging or reserving again. CH-2
 * caps a requestId at 128 characters, so anything a client chose (the Call-ID) is hashed.
 *
 * Changing a recipe changes what the enabler considers "the same request": the ids produced here must stay as
 * they are for messages charged before an upgrade to be recognised after it.
 */
import { createHash } from 'node:crypto';

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');

export interface InviteKey {
  callId: string;
  cseq: number;
  /** The top Via branch of the INVITE ('' when it had none). */
  branch: string;
}

export const RequestIds = {
  /**
   * The first reserve of a session: from the INVITE transaction — Call-ID, CSeq and top Via branch — so a
   * retransmitted INVITE never reserves twice, yet a client that reuses a Call-ID later never replays an old,
   * released reservation.
   */
  reserve(k: InviteKey): string {
    return `rsv:${sha1(`${k.callId}\n${k.cseq}\n${k.branch}`)}`;
  },

  /** The n-th renewal (1, 2, …) of that reservation for the messages left (retrieval-flow.md "Renewal"). */
  renewal(k: InviteKey, n: number): string {
    return `${RequestIds.reserve(k)}:renew${n}`;
  },

  /** One debit per reservation and message: a retried delivery never charges twice. */
  debit(reservationId: string, itemId: string): string {
    return `dbt:${reservationId}:${itemId}`;
  },

  /**
   * Several debits of one reservation sent as one ch2.debits: from the reservation and the items, in order (each
   * item keeps its own `debit` requestId, which is what makes it charged once; this names only the batch).
   */
  debits(reservationId: string, itemIds: readonly string[]): string {
    return `dbs:${reservationId}:${sha1(itemIds.join('\n'))}`;
  },

  /** The direct debit replacing a debit whose reservation is gone (same reservation and message). */
  directDebit(reservationId: string, itemId: string): string {
    return `ddb:${reservationId}:${itemId}`;
  },

  release(reservationId: string): string {
    return `rel:${reservationId}`;
  },

  refund(cdrId: string): string {
    return `rfd:${cdrId}`;
  },

  /** CHARGING_FAILURE_HANDLING=continue: the deferred charge of a message delivered with the enabler away. */
  deferredCharge(sessionId: string, itemId: string): string {
    return `ddb:${sha1(sessionId)}:${itemId}`;
  },
} as const;
