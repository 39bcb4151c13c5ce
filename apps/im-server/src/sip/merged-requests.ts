/**
 * The memory of merged requests (RFC 3261 §8.2.2.2): a request without a To tag whose From tag, Call-ID and CSeq
 * match one that arrived by another branch is a copy that forked back to us, answered 482 by the router.
 *
 * It is bounded in time and in size, since a peer fills it: an entry lives 64·T1 (the life of the transaction that
 * would be merged), by the injected clock, and there are never more than `MAX_MERGED_ENTRIES`. Entries are kept in
 * arrival order, so the expired ones are always at the front; when requests stop coming, a timer empties it.
 */
import type { Clock, SipRequest, TimerHandle } from '@imc/sip';

export const MAX_MERGED_ENTRIES = 20000;

/**
 * A copy of `s` that shares no memory with the message it came from: V8 keeps a substring as a slice of its parent,
 * so a short key cut from a request would otherwise pin the whole decoded header section for as long as it is kept.
 */
function detached(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

export class MergedRequests {
  private readonly seen = new Map<string, { branch: string; at: number }>();
  private sweep?: TimerHandle;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    /** T1 in ms (RFC 3261 §17.1.1.1): an entry lives 64·T1. */
    private readonly t1: number,
    private readonly maxEntries = MAX_MERGED_ENTRIES,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  private get window(): number {
    return 64 * this.t1;
  }

  /** True when `req` merges with a request seen by another branch within 64·T1; otherwise it is remembered. */
  isMerged(req: SipRequest): boolean {
    const key = `${req.from?.params.tag}|${req.callId}|${req.get('cseq')}`;
    const branch = req.topVia?.branch ?? '';
    const now = this.clock.now();
    this.evict(now);
    const seen = this.seen.get(key);
    if (seen && seen.branch !== branch && now - seen.at < this.window) return true;
    this.seen.delete(key); // re-inserted at the back: arrival order stays time order
    this.seen.set(detached(key), { branch: detached(branch), at: now });
    if (!this.closed) this.sweep ??= this.clock.setTimer(this.window, () => this.sweepExpired());
    return false;
  }

  /** Stops the sweeping timer (the server is closing). */
  close(): void {
    this.closed = true;
    this.sweep?.cancel();
    this.sweep = undefined;
  }

  private evict(now: number): void {
    for (const [k, v] of this.seen) {
      if (now - v.at < this.window && this.seen.size < this.maxEntries) break;
      this.seen.delete(k);
    }
  }

  private sweepExpired(): void {
    this.sweep = undefined;
    if (this.closed) return;
    this.evict(this.clock.now());
    const oldest = this.seen.values().next();
    if (!oldest.done) this.sweep = this.clock.setTimer(Math.max(1, oldest.value.at + this.window - this.clock.now()), () => this.sweepExpired());
  }
}
