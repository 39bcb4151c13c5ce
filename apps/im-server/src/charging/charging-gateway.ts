/**
 * The im-server's side of CH-2 (the "Charging Enabler User" of the OMA CR): builds requests with derived,
 * replay-safe requestIds, sends them through `Ch2Client` (Tx + same-requestId retries), and puts debits,
 * releases and refunds that got no answer — or a TOO_BUSY answer, which is the enabler saying "not now" — in the
 * durable retry queue.
 *
 * A debit for a message already delivered (or already past its outcome) that finds its reservation gone — expired
 * while the enabler was away or while this process was dead — falls back to a direct debit of the same item
 * (requestId `ddb:<reservation>:<item>`, carrying the outcome): the CR's rule that the outcome is charged does not
 * depend on the order in which the enabler hears of it. A release no longer overtakes a queued debit of its
 * reservation (see `release` and the retry queue).
 *
 * Every requestId recipe lives in `retrieval/request-ids.ts`.
 *
 * Charged once per message (retrieval-flow.md "Charged once, whatever crashes"). The requestIds here make one
 * operation replay-safe (`dbt:<reservation>:<item>` is one debit, re-sent as often as needed); what makes a MESSAGE
 * charged once is the enabler's charge-once mark, keyed by subscriber and stored message id (`itemId`), written in
 * the script that charges it. A debit or direct debit of a message charged before — the same message delivered
 * again in a later session because a process died between its charge and its deletion, a fallback, a deferred
 * charge — answers SUCCESS with nothing charged and `chargedBy` naming the first charge; so a redelivery finds it
 * under every policy. What counts as the message's charge is its FIRST chargeable outcome as the policy defines it:
 * under `on-outcome` a message charged for a 4xx or a timeout (it stays stored) is not charged again when it is
 * delivered in a later session — the user has paid for it once, and withholding the 200 still did not dodge the
 * charge; under `on-delivery` only a 200 charges; under `before-send` the debit before the SEND is the charge, and
 * only its refund in full (no byte of the message left) lets a later delivery be charged.
 */
import { randomUUID } from 'node:crypto';
import { Ch2Client, Ch2UnavailableError, DebitRequest, DebitResponse, DebitsRequest, PriceResponse, ReleaseResponse, ReserveResponse, RefundResponse, Ch2Item } from '@imc/ch2';
import { RequestIds } from '../retrieval/request-ids';
import { ChargingRetryQueue, directDebitFor, needsDirectDebit, QueuedOp } from './charging-retry-queue';
import { GroupCommit } from './group-commit';

/**
 * Decides each item's rating group at reserve time (windows/ module: a tagged message retrieved inside its selected
 * background window, within the booked volume per user → the policy's rating group; else none).
 */
export interface RatingGroupDecider {
  /** `tags`: each item's background-window tag when the caller already read it with the message (no second read). */
  decide(subscriber: string, items: readonly Ch2Item[], at: Date, tags?: readonly (string | undefined)[]): Promise<(string | undefined)[]>;
}

/** Reservations whose rating groups are remembered for their debits, at most (the oldest are forgotten first). */
const MAX_REMEMBERED_RESERVATIONS = 100000;
/** The most after-outcome debits one ch2.debits carries (the enabler takes up to 256). */
const DEBITS_PER_BATCH = 32;

export type Reserved = { kind: 'answer'; res: ReserveResponse } | { kind: 'unavailable'; error: Ch2UnavailableError };
export type Settled<T> = { kind: 'answer'; res: T } | { kind: 'queued' };

export class ChargingGateway {
  constructor(
    private readonly ch2: Ch2Client,
    private readonly queue: ChargingRetryQueue,
    private readonly service: string,
    private readonly validitySeconds: number,
    private readonly observe: (subject: string, result: string, seconds: number) => void = () => undefined,
    private readonly ratingGroups?: RatingGroupDecider,
  ) {}

  /** Per reservation, the rating group of each item that has one: its debit is priced as it was reserved. */
  private readonly groupsOf = new Map<string, Map<string, string>>();

  /** After-outcome debits of one reservation that come while one is on its way go out together (see flushDebits). */
  private readonly debitBatches = new GroupCommit<DebitRequest, Settled<DebitResponse>>((rid, reqs) => this.flushDebits(rid, reqs), DEBITS_PER_BATCH);

  private common(subscriber: string, requestId: string, sessionId: string) {
    return { requestId, subscriber, service: this.service, timestamp: new Date().toISOString(), sessionId };
  }

  private async timed<T extends { result: string }>(subject: string, f: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      const r = await f();
      this.observe(subject, r.result, (performance.now() - t) / 1000);
      return r;
    } catch (e) {
      this.observe(subject, e instanceof Ch2UnavailableError ? 'UNAVAILABLE' : 'ERROR', (performance.now() - t) / 1000);
      throw e;
    }
  }

  /** requestId derived from the SIP transaction, so a retransmitted INVITE never reserves twice. */
  async reserve(subscriber: string, requestId: string, sessionId: string, items: Ch2Item[], tags?: readonly (string | undefined)[]): Promise<Reserved> {
    try {
      const grouped = await this.withGroups(subscriber, items, tags);
      const res = await this.timed('ch2.reserve', () => this.ch2.reserve({ ...this.common(subscriber, requestId, sessionId), items: grouped, validitySeconds: this.validitySeconds }));
      if (res.reservationId) this.remember(res.reservationId, grouped);
      return { kind: 'answer', res };
    } catch (e) {
      if (e instanceof Ch2UnavailableError) return { kind: 'unavailable', error: e };
      throw e;
    }
  }

  /** The items with the rating group the windows module decides for each (unchanged without one). */
  private async withGroups(subscriber: string, items: Ch2Item[], tags?: readonly (string | undefined)[]): Promise<Ch2Item[]> {
    if (!this.ratingGroups || !items.length) return items;
    const groups = await this.ratingGroups.decide(subscriber, items, new Date(), tags);
    return items.map((it, i) => (groups[i] ? { ...it, ratingGroup: groups[i] } : it));
  }

  private remember(reservationId: string, items: Ch2Item[]): void {
    const m = new Map<string, string>();
    for (const it of items) if (it.ratingGroup) m.set(it.id, it.ratingGroup);
    if (!m.size) return;
    if (this.groupsOf.size >= MAX_REMEMBERED_RESERVATIONS) this.groupsOf.delete(this.groupsOf.keys().next().value!);
    this.groupsOf.set(reservationId, m);
  }

  /** CHECK_BALANCE for the user's own page; undefined when the enabler does not answer. */
  async balance(subscriber: string) {
    try {
      return await this.timed('ch2.balance', () => this.ch2.balance({ ...this.common(subscriber, `bal:${randomUUID()}`, 'web') }));
    } catch (e) {
      if (e instanceof Ch2UnavailableError) return undefined;
      throw e;
    }
  }

  /** PRICE_ENQUIRY for advice of charge (nothing held, nothing charged); undefined when the enabler does not answer. */
  async price(subscriber: string, items: Ch2Item[]): Promise<PriceResponse | undefined> {
    try {
      return await this.timed('ch2.price', () => this.ch2.price({ ...this.common(subscriber, `prc:${randomUUID()}`, 'aoc'), items }));
    } catch (e) {
      if (e instanceof Ch2UnavailableError) return undefined;
      throw e;
    }
  }

  /** Debit requestId = reservation + message id (retrieval-flow.md: a retried delivery never charges twice). */
  static debitId(reservationId: string, itemId: string): string {
    return RequestIds.debit(reservationId, itemId);
  }

  /**
   * `afterOutcome`: the message's outcome is known (sent and answered, timed out or left unanswered), so a missing
   * reservation falls back to a direct debit. False for the `before-send` debit, where anything but SUCCESS means
   * "do not send": queued, that debit is refunded if its replay finds it applied.
   */
  async debit(
    subscriber: string,
    sessionId: string,
    reservationId: string,
    itemId: string,
    outcome: 'delivered' | 'rejected' | 'timeout',
    octets: number,
    afterOutcome = false,
  ): Promise<Settled<DebitResponse>> {
    const ratingGroup = this.groupsOf.get(reservationId)?.get(itemId);
    const req = { ...this.common(subscriber, ChargingGateway.debitId(reservationId, itemId), sessionId), reservationId, itemId, outcome, octets, ...(ratingGroup ? { ratingGroup } : {}) };
    const r = afterOutcome ? await this.debitBatches.submit(reservationId, req) : await this.sendDebit(req, false);
    if (r.kind === 'answer' && afterOutcome && needsDirectDebit(req, r.res)) await this.directDebitFallback(req);
    return r;
  }

  private sendDebit(req: DebitRequest, afterOutcome: boolean): Promise<Settled<DebitResponse>> {
    return this.send({ op: 'debit', req, afterOutcome, refundIfCharged: !afterOutcome }, 'ch2.debit', () => this.ch2.debit(req));
  }

  /**
   * The after-outcome debits of one reservation that waited for the previous one (GroupCommit): one alone goes as
   * ch2.debit, several as one ch2.debits, where each item keeps its own requestId, CDR and charge-once mark
   * (ch2-contract.md "ch2.debits"). With no answer, each item waits in the durable queue as its own ch2.debit: one the
   * batch had applied gets its stored answer there. A batch refused as a whole (not TOO_BUSY) is sent item by item.
   */
  private async flushDebits(reservationId: string, reqs: DebitRequest[]): Promise<Settled<DebitResponse>[]> {
    if (reqs.length === 1) return [await this.sendDebit(reqs[0], true)];
    const first = reqs[0];
    const items = reqs.map((r) => ({ requestId: r.requestId, itemId: r.itemId, outcome: r.outcome, octets: r.octets, ...(r.ratingGroup ? { ratingGroup: r.ratingGroup } : {}) }));
    const batch: DebitsRequest = { ...this.common(first.subscriber, RequestIds.debits(reservationId, reqs.map((r) => r.itemId)), first.sessionId as string), reservationId, items };
    try {
      const res = await this.timed('ch2.debits', () => this.ch2.debits(batch));
      if (res.result === 'SUCCESS' && res.items?.length === reqs.length) return res.items.map((r) => ({ kind: 'answer', res: r }));
      if (res.result !== 'TOO_BUSY') return Promise.all(reqs.map((r) => this.sendDebit(r, true)));
    } catch (e) {
      if (!(e instanceof Ch2UnavailableError)) throw e;
    }
    for (const r of reqs) await this.queue.enqueue({ op: 'debit', req: r, afterOutcome: true, refundIfCharged: false });
    return reqs.map(() => ({ kind: 'queued' }));
  }

  /** One settling request: its answer, or — with no answer or a TOO_BUSY one — its place in the durable queue. */
  private async send<T extends { result: string }>(q: QueuedOp, subject: string, call: () => Promise<T>): Promise<Settled<T>> {
    try {
      const res = await this.timed(subject, call);
      if (res.result !== 'TOO_BUSY') return { kind: 'answer', res };
    } catch (e) {
      if (!(e instanceof Ch2UnavailableError)) throw e;
    }
    await this.queue.enqueue(q);
    return { kind: 'queued' };
  }

  /** The direct debit that replaces a reservation-based debit whose reservation is gone (see the class comment). */
  async directDebitFallback(d: DebitRequest): Promise<void> {
    const req = directDebitFor(d);
    await this.send({ op: 'direct-debit', req }, 'ch2.direct-debit', () => this.ch2.directDebit(req));
  }

  /**
   * A release never overtakes a debit of its reservation: while one waits in the durable queue (the enabler was away
   * when the message's outcome came), the release is queued behind it instead of being sent.
   */
  async release(subscriber: string, sessionId: string, reservationId: string): Promise<Settled<ReleaseResponse>> {
    const req = { ...this.common(subscriber, RequestIds.release(reservationId), sessionId), reservationId };
    this.groupsOf.delete(reservationId);
    if (await this.queue.holdsDebitsOf(reservationId)) {
      await this.queue.enqueue({ op: 'release', req }, 0);
      return { kind: 'queued' };
    }
    return this.send({ op: 'release', req }, 'ch2.release', () => this.ch2.release(req));
  }

  /**
   * CHARGING_FAILURE_HANDLING=continue (RFC 4006 CCFH CONTINUE): the enabler was unreachable at INVITE time and the
   * message was delivered anyway; its charge is recorded as a direct debit in the durable queue, sent when the
   * enabler is back (requestId derived from the session and message, so it is charged once).
   */
  async recordDeferredCharge(subscriber: string, sessionId: string, itemId: string, octets: number): Promise<void> {
    await this.queue.enqueue(
      { op: 'direct-debit', req: { ...this.common(subscriber, RequestIds.deferredCharge(sessionId, itemId), sessionId), items: [{ id: itemId, octets }], outcome: 'delivered' } },
      0,
    );
  }

  async refund(subscriber: string, sessionId: string, cdrId: string): Promise<Settled<RefundResponse>> {
    const req = { ...this.common(subscriber, RequestIds.refund(cdrId), sessionId), cdrId };
    return this.send({ op: 'refund', req }, 'ch2.refund', () => this.ch2.refund(req));
  }
}
