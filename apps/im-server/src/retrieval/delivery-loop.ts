/**
 * Steps 5–10 of retrieval-flow.md: the granted messages sent in order, one MSRP SEND each wrapped in message/cpim,
 * each outcome settled — the debit CHARGING_POLICY asks for, then the deletion after the MSRP 200 OK.
 *
 * SENDs are written in order on the connection while up to `window` of them await their MSRP response (RFC 4975
 * lets transactions overlap); bodies are read ahead (at most 32). `before-send` debits each message before writing
 * it, one at a time. A reservation about to expire is renewed between two messages, with nothing in flight.
 * A stored receipt (IMDN) goes out like a message — its IMDN as the CPIM content — under every policy without a
 * debit, a refund or a deferred charge; it is deleted after its 200 like a message. Each debit and refund answer is
 * handed to the session's advice of charge (`aoc`), which sums the AoC-E cost from them.
 */
import type { Clock } from '@imc/sip';
import { mimePart, SendOutcome, wrapCpim } from '@imc/msrp';
import type { SessionAoc } from '../aoc/session-aoc';
import { storedReceiptPart } from '../receipts/imdn-receipt';
import type { StoredMessageMeta } from '../store/deferred-store';
import { EndReason, EndReasons } from './retrieval-state';
import type { MsrpLeg, RetrievalCharging, RetrievalConfig, RetrievalMetrics, RetrievalObserver, RetrievalStore } from './retrieval-ports';
import type { ReservationGrant } from './reservation-grant';

/** Attempts at deleting a delivered message before the session gives up (~7 s of backoff in all). */
const DELETE_ATTEMPTS = 8;
/** Settlements (debit, deletion) of answered SENDs that may be pending, per SEND of the window, before the loop waits. */
const SETTLE_BACKLOG_PER_WINDOW = 4;

export interface DeliveryContext {
  aor: string;
  callId: string;
  config: RetrievalConfig;
  store: RetrievalStore;
  charging: RetrievalCharging;
  metrics: RetrievalMetrics;
  clock: Clock;
  leg: MsrpLeg;
  grant: ReservationGrant;
  log: (m: string) => void;
  observer?: RetrievalObserver;
  /** The session's advice of charge: told every debit and refund answer. */
  aoc: Pick<SessionAoc, 'debited' | 'refunded'>;
  /** The session left Delivering (a BYE, a timer, a shutdown): nothing more is written. */
  ended: () => boolean;
  /** The server itself cut the session short (isServerCut of its end reason). */
  serverCut: () => boolean;
  hangUp: (r: EndReason) => void;
}

export class DeliveryLoop {
  delivered = 0;
  /** A SEND came back closed or unanswered: the connection is gone, the messages after it are not sent. */
  private stopped = false;

  constructor(private readonly x: DeliveryContext) {}

  private get stopping(): boolean {
    return this.stopped || this.x.ended();
  }

  async run(): Promise<void> {
    const { x } = this;
    const c = x.config;
    const grant = x.grant;
    const window = c.chargingPolicy === 'before-send' ? 1 : c.msrpSendWindow;
    const readAhead = Math.min(window, 32);
    // SENDs awaiting their MSRP response (the window), and settlements (debit, deletion) not yet done: a message's
    // settlement no longer holds the window, so the next SENDs go out while the enabler and the store answer
    const inFlight: Promise<void>[] = [];
    const settling: Promise<void>[] = [];
    const settleBacklog = c.chargingPolicy === 'before-send' ? 0 : window * SETTLE_BACKLOG_PER_WINDOW;
    const bodies = new Map<string, Promise<Buffer | null>>();
    const list = grant.granted;
    const prefetch = (from: number) => {
      for (let i = from; i < Math.min(from + readAhead, list.length); i++) {
        const m = list[i];
        if (bodies.has(m.id)) continue;
        const b = x.store.body(x.aor, m.id);
        b.catch(() => undefined); // a failed read is seen when this body is awaited, never as an unhandled rejection
        bodies.set(m.id, b);
      }
    };
    // only a renewal changes the grant while this loop runs; after one, messages it no longer covers are skipped
    let stillGranted: Set<StoredMessageMeta> | undefined;
    for (let i = 0; i < list.length; i++) {
      const m = list[i];
      if (this.stopping) break;
      if (stillGranted && !stillGranted.has(m)) continue;
      if (grant.renewalDue()) {
        // settle every message sent on the old reservation before it is released
        await Promise.all(inFlight.splice(0));
        await Promise.all(settling.splice(0));
        if (this.stopping) break;
        const renewed = await grant.renew();
        if (!renewed) x.hangUp(EndReasons.renewalFailed);
        if (this.stopping) break;
        stillGranted = new Set(grant.granted);
        if (!stillGranted.has(m)) continue;
      }
      grant.attempted.add(m.id);
      prefetch(i);
      const body = await bodies.get(m.id)!;
      bodies.delete(m.id);
      if (!body) continue; // expired meanwhile: never charged, its hold is released at the end
      if (this.stopping) break; // a BYE came while the body was read: nothing more is written
      // a stored receipt's content is the IMDN itself, its MIME part marked `notification` (RFC 5438 §7.2.1.1)
      const inner = (m.receipt && storedReceiptPart(m.contentType, body)) || mimePart(m.contentType, body);
      const cpim = wrapCpim({ from: m.from, to: m.to, dateTime: m.receivedAt, imdnMessageId: m.imdnMessageId ?? m.id, dispositionNotification: m.disposition }, inner);
      let beforeSendCdr: string | undefined;
      if (grant.charged && c.chargingPolicy === 'before-send' && !m.receipt) {
        // the CR editor's note: debit before the SEND; a failed debit means the message is not sent
        const d = await x.charging.debit(x.aor, x.callId, grant.reservationId!, m.id, 'delivered', m.octets);
        x.aoc.debited(d);
        if (d.kind !== 'answer' || d.res.result !== 'SUCCESS') {
          x.hangUp(EndReasons.debitNotConfirmed);
          break;
        }
        beforeSendCdr = d.res.cdrId;
        if (this.stopping) {
          // the session ended while the debit was on its way: the message is not sent, its charge goes back
          if (beforeSendCdr) await this.refund(beforeSendCdr);
          break;
        }
      }
      // the reservation this message is charged on, fixed when it is sent (a renewal may replace it meanwhile)
      const rid = grant.charged && !m.receipt ? grant.reservationId : undefined;
      const sent = x.leg.send({ contentType: 'message/cpim', body: cpim, successReport: c.successReport });
      // the settlement first: a `closed` outcome stops the loop (settle) before the window lets it go on
      const settled = sent.then((outcome) => this.settle(m, outcome, rid, beforeSendCdr));
      // a failed settlement stops the SENDs; its error is seen when awaited below (then the session hangs up)
      settled.catch(() => (this.stopped = true));
      settling.push(settled);
      inFlight.push(sent.then(() => undefined));
      if (inFlight.length >= window) await inFlight.shift();
      if (settling.length > settleBacklog) await settling.shift();
    }
    await Promise.all(inFlight);
    await Promise.all(settling);
  }

  /**
   * Steps 8–10 for one message: the debit the policy asks for, on the reservation it was sent on, then the deletion
   * after a 200. A SEND written but never answered before the session closed (the client withheld its 200 and hung
   * up) counts as a transaction timeout: `on-outcome` charges it, `before-send` keeps its charge, `on-delivery` does
   * not charge it; it stays stored either way. When the server cut the session (shutdown), it is treated as never
   * sent: not charged, and refunded under `before-send`.
   */
  private async settle(m: StoredMessageMeta, outcome: SendOutcome, rid: string | undefined, beforeSendCdr?: string): Promise<void> {
    const { x } = this;
    const c = x.config;
    x.metrics.msrpSend(outcome.kind === 'rejected' ? `rejected-${outcome.status}` : outcome.kind);
    if (outcome.kind === 'closed' || (outcome.kind === 'unanswered' && x.serverCut())) {
      this.stopped = true;
      // before-send: no byte of this message left (or the server cut the session), refund the charge taken for it
      if (beforeSendCdr) await this.refund(beforeSendCdr);
      return;
    }
    if (outcome.kind === 'unanswered') this.stopped = true;
    const debitOutcome = outcome.kind === 'delivered' ? 'delivered' : outcome.kind === 'rejected' ? 'rejected' : 'timeout';
    if (rid && c.chargingPolicy !== 'before-send') {
      // on-outcome (the CR as written): 200, 4xx and timeout are all charged; on-delivery: only 200
      if (c.chargingPolicy === 'on-outcome' || debitOutcome === 'delivered') {
        const d = await x.charging.debit(x.aor, x.callId, rid, m.id, debitOutcome, m.octets, true);
        x.aoc.debited(d);
        // the session's reservation expired: the next message renews it (this one fell back to a direct debit)
        if (d.kind === 'answer' && d.res.result === 'UNKNOWN_RESERVATION') x.grant.lost(rid);
      }
    } else if (x.grant.kind === 'unreserved' && debitOutcome === 'delivered' && !m.receipt) {
      await x.charging.recordDeferredCharge(x.aor, x.callId, m.id, m.octets);
    }
    if (outcome.kind === 'delivered') {
      await this.deleteDelivered(m); // step 10: only after the MSRP 200 OK
      this.delivered++;
      x.observer?.delivered(m);
    }
  }

  /** Gives back a `before-send` charge whose message never left (the AoC-E cost counts the refund). */
  private async refund(cdrId: string): Promise<void> {
    this.x.aoc.refunded(await this.x.charging.refund(this.x.aor, this.x.callId, cdrId));
  }

  /**
   * Step 10, retried with backoff for a few seconds: a Redis blip between a message's debit and its deletion would
   * leave it stored, to be delivered — and charged — again by the next retrieval.
   */
  private async deleteDelivered(m: StoredMessageMeta): Promise<void> {
    const { x } = this;
    for (let attempt = 1; ; attempt++) {
      try {
        await x.store.delete(x.aor, m.id);
        return;
      } catch (e) {
        if (attempt >= DELETE_ATTEMPTS) throw e;
        x.log(`retrieval ${x.callId}: deleting delivered message ${m.id} failed (${(e as Error).message}); retrying`);
        await new Promise<void>((r) => x.clock.setTimer(Math.min(2000, 50 * 2 ** attempt), r));
      }
    }
  }
}
