/**
 * The advice of charge of one retrieval session (retrieval-flow.md "Advice of charge"): whether the INVITE
 * negotiated it (its Accept lists `application/vnd.etsi.aoc+xml`), the 200 OK body (SDP alone, or SDP + AoC-S in
 * `multipart/mixed`), the running cost from the session's debit answers, and the AoC-E body for the BYE (ours, or
 * the 200 to the client's). Pure: the session hands it what CH-2 answered; nothing here does I/O.
 *
 * The AoC-S price is what the reservation holds for the granted messages (`reservedAmount`: the price of exactly the
 * messages that will be offered). The cost after is the sum of the session's confirmed debits; a debit that went to
 * the durable retry queue, or a direct-debit fallback whose amount the session never saw, makes it unknown, and the
 * AoC-E says `not-available` rather than a figure that may be short.
 */
import type { DebitResponse, RefundResponse, ReserveResponse } from '@imc/ch2';
import { AOC_CONTENT_TYPE, buildAocE, buildAocS } from './aoc-xml';
import { acceptsAoc, sdpWithAoc } from './multipart-body';

type Settled<T> = { kind: 'answer'; res: T } | { kind: 'queued' };

export interface SipBody {
  contentType: string;
  body: Uint8Array;
  /** Headers that go with the body (the multipart 200 OK's `Content-Disposition: session`). */
  headers?: [string, string][];
}

export class SessionAoc {
  private cost = 0;
  private known = true;
  private currency?: string;

  private constructor(readonly negotiated: boolean) {}

  /** From the INVITE's Accept header values (`req.getAll('accept')`). */
  static forInvite(accept: readonly string[]): SessionAoc {
    return new SessionAoc(acceptsAoc(accept));
  }

  /**
   * The 200 OK body: SDP only unless AoC was negotiated and the reservation priced the granted messages. Send it
   * with its headers: `tx.respond(200, 'OK', { headers: [...others, ...(b.headers ?? [])], body: b.body, contentType: b.contentType })`.
   */
  answerBody(sdp: string, reserve: ReserveResponse | undefined): SipBody {
    if (reserve?.currency) this.currency = reserve.currency;
    if (!this.negotiated || !reserve?.currency || reserve.reservedAmount === undefined) return { contentType: 'application/sdp', body: new TextEncoder().encode(sdp) };
    return sdpWithAoc(sdp, buildAocS({ currency: reserve.currency, amount: reserve.reservedAmount }));
  }

  /** Each debit of the session, as `ChargingGateway.debit` answered it. */
  debited(r: Settled<DebitResponse>): void {
    // queued, or answered otherwise (a direct-debit fallback may charge it): the amount is not known here
    if (r.kind === 'queued' || r.res.result !== 'SUCCESS') {
      this.known = false;
      return;
    }
    this.cost += r.res.debitedAmount ?? 0; // a message charged before answers SUCCESS with 0
    this.currency ??= r.res.currency;
  }

  /** A refund of one of the session's debits (the `before-send` policy's refund of a message that never left). */
  refunded(r: Settled<RefundResponse>): void {
    if (r.kind === 'queued' || r.res.result !== 'SUCCESS') this.known = false;
    else this.cost -= r.res.refundedAmount ?? 0;
  }

  /** Some of the session's debits had not settled when the AoC-E was due: the cost is not known. */
  incomplete(): void {
    this.known = false;
  }

  /** The total charged so far, undefined when a charge is unconfirmed. */
  get total(): number | undefined {
    return this.known ? this.cost : undefined;
  }

  /**
   * The AoC-E body for the BYE (or the 200 to the client's BYE), with the balance after when known
   * (`ChargingGateway.balance(aor)` once the session's debits are settled); undefined when AoC was not negotiated or
   * nothing was ever priced (no currency known).
   */
  endBody(balanceAfter?: number): SipBody | undefined {
    if (!this.negotiated || !this.currency) return undefined;
    return { contentType: AOC_CONTENT_TYPE, body: new TextEncoder().encode(buildAocE({ currency: this.currency, cost: this.total, balanceAfter })) };
  }
}
