/**
 * Every Redis key of the background-window module, built here and only here (STYLE.md "Redis key builders are
 * defined once"). All share the hash tag `{bdt}`: one slot, so each script may touch any of them under Redis Cluster
 * (the volume is operator-sized: resources per application server, not per message).
 */
export class BdtKeys {
  constructor(private readonly prefix: string) {}

  private k(rest: string): string {
    return `${this.prefix}bdt:{bdt}:${rest}`;
  }

  /** Hash asId → JSON {tokenSha256, createdAt} of the application servers registered through the admin API. */
  get asRegistry(): string {
    return this.k('as');
  }
  /** Set of every resource id. */
  get ids(): string {
    return this.k('ids');
  }
  /** Hash of one resource: `doc` (the negotiated resource, immutable) and its state fields. */
  resource(id: string): string {
    return this.k(`r:${id}`);
  }
  /** Hash windowId → octets booked (and `#seq`, the booking sequence). */
  get booked(): string {
    return this.k('booked');
  }
  /** Hash windowId → capacity set by the operator (absent: BDT_WINDOW_CAPACITY_OCTETS). */
  get capacity(): string {
    return this.k('cap');
  }
  /** Zset of the resources booked in one window, by booking sequence (the latest is cancelled first). */
  window(windowId: string): string {
    return this.k(`w:${windowId}`);
  }
  /** Zset of the events to publish (member: the event JSON, score: when it is due). */
  get due(): string {
    return this.k('due');
  }
  /** Zset of the events a replica is publishing (score: when its claim lapses). */
  get claimed(): string {
    return this.k('claimed');
  }
  /** Hash of the volume used per user under a resource (`n`, `t:<aor>`, `m:<aor> <message id>`). */
  use(id: string): string {
    return this.k(`use:${id}`);
  }
  /** Set of the users holding messages tagged with a resource (notified when its window opens). */
  users(id: string): string {
    return this.k(`users:${id}`);
  }
}
