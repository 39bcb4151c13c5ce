/**
 * How many connections to the MSRP listeners may be open without a bound session, per source address and in total.
 * Until its first request binds a session (RFC 4975 §5.4) a connection is anonymous: anyone can open one, and each
 * holds a socket, a parser buffer and a bind timer. A connection over either allowance is closed at once — as
 * libs/sip-node's TCP transport does for half-received SIP messages (`maxPartialPerSource`). One limiter may be
 * shared by several listeners (TCP, TLS and WebSocket) so that the total holds across them.
 *
 * A connection the server is waiting for is not anonymous: after a 200 OK with our MSRP path, the client that sent
 * the INVITE (authenticated) is expected to connect. `expect(address)` raises that source's allowance by one until
 * the session binds or ends, so N clients behind one address (a NAT, a load generator) that each answered their
 * own 200 OK are never closed at accept, while anonymous connections keep the allowance they had. The total is never
 * raised: it is the memory bound.
 */
export const DEFAULT_MAX_UNBOUND_PER_SOURCE = 16;
export const DEFAULT_MAX_UNBOUND = 1024;

export type UnboundSlot = { ok: true; release: () => void } | { ok: false; reason: string };

export class UnboundLimiter {
  /** Source address → its unbound connections; an entry goes when its count is 0. */
  private readonly bySource = new Map<string, number>();
  /** Source address → sessions answered and waiting for that source's connection; an entry goes at 0. */
  private readonly expected = new Map<string, number>();
  private total = 0;
  /** Connections closed at once for being over an allowance (metrics, tests). */
  readonly dropped = { perSource: 0, total: 0 };

  constructor(
    readonly maxPerSource = DEFAULT_MAX_UNBOUND_PER_SOURCE,
    readonly maxTotal = DEFAULT_MAX_UNBOUND,
  ) {}

  /** A slot for a new connection from `address`; `release` (idempotent) gives it back when it binds or closes. */
  acquire(address: string): UnboundSlot {
    const source = sourceOf(address);
    const n = this.bySource.get(source) ?? 0;
    const allowance = this.maxPerSource + (this.expected.get(source) ?? 0);
    if (n >= allowance) {
      this.dropped.perSource++;
      return { ok: false, reason: `already ${allowance} connections without a bound session from this source` };
    }
    if (this.total >= this.maxTotal) {
      this.dropped.total++;
      return { ok: false, reason: `already ${this.maxTotal} connections without a bound session in total` };
    }
    this.bySource.set(source, n + 1);
    this.total++;
    let held = true;
    return {
      ok: true,
      release: () => {
        if (!held) return;
        held = false;
        this.total--;
        const left = (this.bySource.get(source) ?? 1) - 1;
        if (left > 0) this.bySource.set(source, left);
        else this.bySource.delete(source);
      },
    };
  }

  /**
   * A session was answered and waits for a connection from `address` (where its INVITE came from): one more
   * unbound connection is allowed from there until `done` (idempotent) is called — when it binds or ends.
   */
  expect(address: string): () => void {
    const source = sourceOf(address);
    this.expected.set(source, (this.expected.get(source) ?? 0) + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = (this.expected.get(source) ?? 1) - 1;
      if (left > 0) this.expected.set(source, left);
      else this.expected.delete(source);
    };
  }

  get size(): { unbound: number; sources: number } {
    return { unbound: this.total, sources: this.bySource.size };
  }
}

function sourceOf(address: string): string {
  return address.replace(/^::ffff:/, '');
}
