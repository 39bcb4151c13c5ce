/**
 * What the session may deliver and on which reservation (retrieval-flow.md "Retrieval": steps 2–3 and
 * the Renewal case):
 *
 * - `charged`: a CH-2 reservation covers the granted messages; it is renewed for the messages left when it is about
 *   to expire (or was lost), comparing its `expiresAt` with the SIP front's clock (wall time in production);
 * - `free`: CREDIT_CONTROL_NOT_APPLICABLE (RFC 4006 §5.2): deliver, no further credit control; also a mailbox
 *   holding only stored receipts (IMDNs), which are never reserved nor charged (no CH-2 call at all);
 * - `unreserved`: CHARGING_FAILURE_HANDLING=continue with the enabler away (ch2-contract.md "Timers and failure
 *   handling"): deliver, each delivery recorded as a deferred charge.
 *
 * Stored receipts (retrieval-flow.md "Delivery notifications") ride along under every kind: left out of every
 * reserve and renewal, granted whatever the reservation granted, delivered free.
 */
import type { Clock } from '@imc/sip';
import type { ReserveResponse } from '@imc/ch2';
import type { Reserved } from '../charging/charging-gateway';
import type { StoredMessageMeta } from '../store/deferred-store';
import type { RetrievalCharging } from './retrieval-ports';
import { partitionReceipts } from '../receipts/imdn-receipt';
import { InviteKey, RequestIds } from './request-ids';

export type GrantKind = 'charged' | 'free' | 'unreserved';

/** Result → SIP mapping of retrieval-flow.md "Error mapping". */
const REFUSAL: Record<string, [number, string]> = {
  CREDIT_LIMIT_REACHED: [403, 'not enough credit to retrieve deferred messages'],
  END_USER_SERVICE_DENIED: [403, 'service denied for this account'],
  USER_UNKNOWN: [403, 'no charging account'],
  RATING_FAILED: [500, 'rating failed'],
  INVALID_REQUEST: [500, 'charging request refused'],
  UNKNOWN_RESERVATION: [500, 'charging session unknown'],
};

export interface GrantRefusal {
  status: number;
  reason: string;
  text: string;
  headers: [string, string][];
}

type GrantContext = ConstructorParameters<typeof ReservationGrant>[3];

/**
 * Steps 2–3: reserve for the chargeable messages, in order; a mailbox of receipts only skips the reserve (free).
 * Undefined when the session ended while the reserve was on its way (`ended()`, a shutdown): what it reserved is
 * given back at once.
 */
export async function reserveFor(pending: StoredMessageMeta[], failureHandling: string, ctx: GrantContext, ended: () => boolean): Promise<ReservationGrant | GrantRefusal | undefined> {
  const { chargeable } = partitionReceipts(pending);
  if (chargeable.length === 0) return new ReservationGrant('free', pending, undefined, ctx);
  const items = chargeable.map((m) => ({ id: m.id, octets: m.octets }));
  // each message's window tag was read with it (pending): the rating decision needs no second read
  const r = await ctx.charging.reserve(ctx.aor, RequestIds.reserve(ctx.key), ctx.callId, items, chargeable.map((m) => m.bdtReferenceId));
  if (ended()) {
    if (r.kind === 'answer' && r.res.result === 'SUCCESS' && r.res.reservationId) await ctx.charging.release(ctx.aor, ctx.callId, r.res.reservationId);
    return undefined;
  }
  return grantFrom(r, pending, failureHandling, ctx);
}

/** The grant a reserve answer gives (the granted messages and every receipt), or the final answer refusing the INVITE. */
export function grantFrom(r: Reserved, pending: StoredMessageMeta[], failureHandling: string, ctx: GrantContext): ReservationGrant | GrantRefusal {
  if (r.kind === 'unavailable' || r.res.result === 'TOO_BUSY') {
    // ch2-contract.md "Timers and failure handling": CCFH
    if (failureHandling !== 'continue') return { status: 503, reason: 'Service Unavailable', text: 'charging is unavailable; try again later', headers: [['Retry-After', '30']] };
    return new ReservationGrant('unreserved', pending, undefined, ctx);
  }
  if (r.res.result === 'SUCCESS') {
    const ids = new Set(r.res.grantedItems ?? []);
    return new ReservationGrant('charged', pending.filter((m) => m.receipt || ids.has(m.id)), r.res, ctx);
  }
  // RFC 4006 §5.2: deliver, no further credit control
  if (r.res.result === 'CREDIT_CONTROL_NOT_APPLICABLE') return new ReservationGrant('free', pending, undefined, ctx);
  const [status, text] = REFUSAL[r.res.result] ?? [500, r.res.result];
  return { status, reason: status === 403 ? 'Forbidden' : 'Server Internal Error', text: `${text}${r.res.message ? `: ${r.res.message}` : ''}`, headers: [] };
}

export class ReservationGrant {
  /** Messages sent (or whose body was read for sending) on this session: a renewal never covers them again. */
  readonly attempted = new Set<string>();
  private renewals = 0;

  constructor(
    readonly kind: GrantKind,
    public granted: StoredMessageMeta[],
    public reservation: ReserveResponse | undefined,
    private readonly ctx: { aor: string; callId: string; key: InviteKey; charging: RetrievalCharging; clock: Clock; validitySeconds: number },
  ) {}

  /** Each delivery is debited on a live reservation. */
  get charged(): boolean {
    return this.kind === 'charged' && !!this.reservation;
  }

  get reservationId(): string | undefined {
    return this.reservation?.reservationId;
  }

  /** The reservation went away under us (UNKNOWN_RESERVATION on a debit): the next message renews it. */
  lost(reservationId: string): void {
    if (this.reservation?.reservationId === reservationId) this.reservation = undefined;
  }

  /** A reservation about to expire (or lost) while messages remain is renewed for the rest. */
  renewalDue(): boolean {
    if (this.kind !== 'charged') return false;
    const left = this.reservation?.expiresAt ? Date.parse(this.reservation.expiresAt) - this.ctx.clock.now() : 0;
    const margin = Math.min(10000, (this.ctx.validitySeconds * 1000) / 5);
    return !this.reservation || left <= margin;
  }

  /**
   * Called with nothing in flight: every message sent on the old reservation is settled before it is released.
   * False when the messages left could not be reserved again (the session then ends).
   */
  async renew(): Promise<boolean> {
    const { aor, callId, charging } = this.ctx;
    const rest = this.granted.filter((m) => !this.attempted.has(m.id) && !m.receipt);
    // release first: the old hold still covers exactly these messages, and the new reserve counts on that credit
    const old = this.reservation;
    this.reservation = undefined;
    if (old?.reservationId) await charging.release(aor, callId, old.reservationId);
    if (rest.length === 0) return true;
    const items = rest.map((m) => ({ id: m.id, octets: m.octets }));
    const r = await charging.reserve(aor, RequestIds.renewal(this.ctx.key, ++this.renewals), callId, items, rest.map((m) => m.bdtReferenceId));
    if (r.kind === 'answer' && r.res.result === 'SUCCESS') {
      this.reservation = r.res;
      const ids = new Set(r.res.grantedItems ?? []);
      this.granted = this.granted.filter((m) => this.attempted.has(m.id) || m.receipt || ids.has(m.id));
      return true;
    }
    this.reservation = undefined;
    this.granted = [];
    return false;
  }

  /** Step 11: gives back what is left of the reservation (once; the grant holds nothing afterwards). */
  async releaseRest(): Promise<void> {
    const rid = this.reservation?.reservationId;
    this.reservation = undefined;
    if (rid) await this.ctx.charging.release(this.ctx.aor, this.ctx.callId, rid);
  }
}
