/**
 * The durable retry queue for CH-2 requests whose answer never came (ch2-contract.md "debit retry queue",
 * RFC 4006 §5.7 DDFH TERMINATE_OR_BUFFER adapted): a debit, release or refund is stored in Redis with its
 * requestId and re-sent with that same requestId until the enabler answers — so nothing is lost and, the enabler
 * being idempotent by requestId, nothing is charged twice.
 *
 * Causal order (retrieval-flow.md "Charged once, whatever crashes"): a session's debits come before its release.
 * The queue keeps the order entries were queued in — an entry that got no answer keeps its place, the round stops
 * and the next one starts from the same entry — and a release is never sent while a debit of its reservation waits
 * here (a set per reservation, `rsv:<reservationId>`, holds the requestIds of its queued debits). Otherwise the
 * release would return the debit's hold and the debit would have to fall back to a direct debit.
 */
import { Ch2Client, Ch2UnavailableError, DebitRequest, DirectDebitRequest, RefundRequest, ReleaseRequest } from '@imc/ch2';
import type { RedisClient } from '@imc/runtime';
import { RequestIds } from '../retrieval/request-ids';

export type QueuedOp =
  /**
   * `afterOutcome`: the message's outcome is known, so a reservation found gone falls back to a direct debit.
   * `refundIfCharged`: a `before-send` debit that got no answer, so its message was never sent: if the replay finds
   * it applied, it is refunded at once.
   */
  | { op: 'debit'; req: DebitRequest; afterOutcome?: boolean; refundIfCharged?: boolean }
  | { op: 'release'; req: ReleaseRequest }
  | { op: 'refund'; req: RefundRequest }
  | { op: 'direct-debit'; req: DirectDebitRequest };

/** How many retry intervals an entry that failed for a reason other than a missing answer waits. */
const PARK_FACTOR = 30;

/**
 * Whether a debit answered UNKNOWN_RESERVATION must be replaced by a direct debit: not when the item was already
 * debited (`settled`), and not once the enabler's idempotency window (24 h by default) may have passed since the
 * debit was made — then "reservation unknown" could also mean "applied, then released", and charging twice is
 * worse than not charging a message delivered during a day-long outage (logged by the caller).
 */
export function needsDirectDebit(req: DebitRequest, res: { result: string; settled?: boolean }, maxAgeMs = FALLBACK_MAX_AGE_MS): boolean {
  if (res.result !== 'UNKNOWN_RESERVATION' || res.settled) return false;
  const age = Date.now() - Date.parse(req.timestamp);
  return Number.isFinite(age) && age < maxAgeMs;
}

/** Below the enabler's default idempotency TTL (IDEMPOTENCY_TTL_SECONDS = 86400), with an hour to spare. */
const FALLBACK_MAX_AGE_MS = 23 * 3600 * 1000;

/**
 * The direct debit replacing a debit whose reservation is gone: requestId derived from the debit's (one answer however
 * often it is replayed), the outcome carried into its CDR, and the enabler's charge-once mark of the message makes it
 * charge nothing if the message was charged before under any reservation.
 */
export function directDebitFor(d: DebitRequest): DirectDebitRequest {
  return {
    requestId: RequestIds.directDebit(d.reservationId, d.itemId),
    subscriber: d.subscriber,
    service: d.service,
    timestamp: d.timestamp,
    sessionId: d.sessionId,
    items: [{ id: d.itemId, octets: d.octets, ...(d.ratingGroup ? { ratingGroup: d.ratingGroup } : {}) }],
    outcome: d.outcome,
  };
}

export class ChargingRetryQueue {
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;
  private readonly zset: string;
  private readonly hash: string;
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly ch2: Ch2Client,
    private readonly intervalMs: number,
    private readonly onAnswered: (q: QueuedOp, result: string) => void = () => undefined,
    private readonly onError: (q: QueuedOp, e: Error) => void = () => undefined,
  ) {
    this.zset = `${prefix}ch2q:{retry}:due`;
    this.hash = `${prefix}ch2q:{retry}:ops`;
    this.prefix = prefix;
  }

  /** The requestIds of a reservation's debits waiting here (same hash tag as the queue). */
  private debitsOf(reservationId: string): string {
    return `${this.prefix}ch2q:{retry}:rsv:${reservationId}`;
  }

  async enqueue(q: QueuedOp, delayMs = this.intervalMs): Promise<void> {
    const m = this.redis.multi().hset(this.hash, q.req.requestId, JSON.stringify(q)).zadd(this.zset, Date.now() + delayMs, q.req.requestId);
    if (q.op === 'debit') m.sadd(this.debitsOf(q.req.reservationId), q.req.requestId);
    await m.exec();
  }

  /** Whether a debit of the reservation waits here: its release must then wait behind it (see the class comment). */
  async holdsDebitsOf(reservationId: string): Promise<boolean> {
    return (await this.redis.scard(this.debitsOf(reservationId))) > 0;
  }

  async depth(): Promise<number> {
    return this.redis.zcard(this.zset);
  }

  start(): void {
    this.stopped = false;
    const loop = async () => {
      await this.drain();
      if (!this.stopped) {
        this.timer = setTimeout(loop, this.intervalMs);
        this.timer.unref();
      }
    };
    this.timer = setTimeout(loop, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 10));
  }

  /** Re-sends every due request once; returns how many got an answer. */
  async drain(now = Date.now()): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    let answered = 0;
    try {
      const due = await this.redis.zrangebyscore(this.zset, '-inf', now, 'LIMIT', 0, 500);
      for (const id of due) {
        if (this.stopped) break;
        const raw = await this.redis.hget(this.hash, id);
        if (!raw) {
          await this.redis.zrem(this.zset, id);
          continue;
        }
        const q = JSON.parse(raw) as QueuedOp;
        // a release waits until every debit of its reservation queued here is answered (in this round or a later one)
        if (q.op === 'release' && (await this.holdsDebitsOf(q.req.reservationId))) continue;
        try {
          const res =
            q.op === 'debit'
              ? await this.ch2.debit(q.req)
              : q.op === 'release'
                ? await this.ch2.release(q.req)
                : q.op === 'refund'
                  ? await this.ch2.refund(q.req)
                  : await this.ch2.directDebit(q.req);
          if (res.result === 'TOO_BUSY') throw new Ch2UnavailableError('enabler too busy', q.op);
          if (q.op === 'debit' && q.afterOutcome && needsDirectDebit(q.req, res)) {
            // the reservation expired or was released before this debit got through: charge the item directly
            await this.enqueue({ op: 'direct-debit', req: directDebitFor(q.req) }, 0);
          }
          if (q.op === 'debit' && q.refundIfCharged && res.result === 'SUCCESS' && 'cdrId' in res && res.cdrId) {
            const r = q.req;
            await this.enqueue({ op: 'refund', req: { requestId: RequestIds.refund(res.cdrId), subscriber: r.subscriber, service: r.service, timestamp: r.timestamp, sessionId: r.sessionId, cdrId: res.cdrId } }, 0);
          }
          const done = this.redis.multi().zrem(this.zset, id).hdel(this.hash, id);
          if (q.op === 'debit') done.srem(this.debitsOf(q.req.reservationId), id);
          await done.exec();
          answered++;
          this.onAnswered(q, res.result);
        } catch (e) {
          if (!(e instanceof Ch2UnavailableError)) {
            // not a missing answer (a malformed entry, a transport-level error answer): park it for a while so it
            // never blocks the entries behind it, and go on
            await this.redis.zadd(this.zset, Date.now() + PARK_FACTOR * this.intervalMs, id);
            this.onError(q, e as Error);
            continue;
          }
          // the enabler is still away: the entry keeps its place (and the ones behind it theirs); next round
          break;
        }
      }
    } catch {
      /* Redis hiccup: next round */
    } finally {
      this.running = false;
    }
    return answered;
  }
}
