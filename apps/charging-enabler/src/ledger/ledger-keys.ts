import type { LedgerKeyName } from './ledger-scripts';

/** What the keys of one ledger script call are built from; the ids its keys `K` need are required. */
export type ScriptKeyContext<K extends LedgerKeyName = LedgerKeyName> = { subscriber: string; shard: number } & ('idempotency' extends K
  ? { /** The id the answer is stored under (the requestId or one derived from it). */ idempotencyId: string }
  : unknown) &
  ('reservation' extends K ? { reservationId: string } : unknown);

type AnyKeyContext = { subscriber: string; shard: number; idempotencyId?: string; reservationId?: string };

/**
 * Every Redis key of the ledger, built in one place. The ledger is split into hash-tag shards `{sN}`: an account
 * (with its usage counters), its reservations, idempotency answers and its shard's CDR outbox, expiry index and charges all
 * share the tag, so each Lua script touches one Redis Cluster slot. The shard count must not change once data exists.
 */
export class LedgerKeys {
  constructor(private readonly prefix: string, readonly shards: number) {}

  /** FNV-1a of the normalised subscriber, modulo the shard count. */
  shardOf(subscriber: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < subscriber.length; i++) {
      h ^= subscriber.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return (h >>> 0) % this.shards;
  }

  tag(shard: number): string {
    return `s${shard}`;
  }

  account(sub: string, shard = this.shardOf(sub)): string {
    return `${this.prefix}acct:{s${shard}}:${sub}`;
  }
  idempotency(sub: string, requestId: string, shard = this.shardOf(sub)): string {
    return `${this.prefix}idem:{s${shard}}:${sub}:${requestId}`;
  }
  reservation(shard: number, reservationId: string): string {
    return `${this.prefix}res:{s${shard}}:${reservationId}`;
  }
  expiryIndex(shard: number): string {
    return `${this.prefix}resexp:{s${shard}}`;
  }
  outbox(shard: number): string {
    return `${this.prefix}cdr:{s${shard}}`;
  }
  charges(shard: number): string {
    return `${this.prefix}chg:{s${shard}}`;
  }
  /**
   * The charge-once marks of a shard's subscribers: field `<subscriber>\n<message id>` → `<cdrId>|<outcome>` of the
   * charge that covered the message (retrieval-flow.md "Charged once, whatever crashes"). Marks are swept
   * CHARGE_ONCE_DAYS after their charge (cdr/lua/sweep-marks-1.lua): longer than any stored message lives.
   */
  chargedMessages(shard: number): string {
    return `${this.prefix}once:{s${shard}}`;
  }
  /**
   * An account's usage-monitoring keys (docs/windows-and-usage.md "Usage monitoring"): field = key name, value = the
   * key's JSON state (lua/includes/monitoring.lua). The account hash's field `mk` counts them.
   */
  monitoring(sub: string, shard = this.shardOf(sub)): string {
    return `${this.prefix}mon:{s${shard}}:${sub}`;
  }
  relayPosition(shard: number): string {
    return `${this.prefix}relay-pos:{s${shard}}`;
  }
  relayLease(shard: number): string {
    return `${this.prefix}relay-lease:{s${shard}}`;
  }
  /** The JetStream sequence of the CDR at the relay position (what JetStream acknowledged for it), to verify after a restart. */
  relaySeq(shard: number): string {
    return `${this.prefix}relay-seq:{s${shard}}`;
  }
  /** What the relay knows of the CDR stream (its creation time), to tell a stream that was lost and re-created. */
  relayStream(): string {
    return `${this.prefix}relay-stream`;
  }
  /**
   * The shard's opening figures: per account, the totals of the CDRs trimmed from the outbox after their retention
   * (`t:<sub>` top-ups, `r:<sub>` refunds, `d:<sub>` debits) and `upto`, the last trimmed outbox entry id.
   */
  cdrOpening(shard: number): string {
    return `${this.prefix}cdr-open:{s${shard}}`;
  }
  /** The keys a ledger script takes (its KEYS, named in ledger-scripts.ts), in order, for one call. */
  forScript<K extends LedgerKeyName>(names: readonly K[], c: ScriptKeyContext<K>): string[] {
    return names.map((name) => this.byName(name, c));
  }

  private byName(name: LedgerKeyName, c: AnyKeyContext): string {
    switch (name) {
      case 'account':
        return this.account(c.subscriber, c.shard);
      case 'idempotency':
        return this.idempotency(c.subscriber, required(c.idempotencyId, name), c.shard);
      case 'reservation':
        return this.reservation(c.shard, required(c.reservationId, name));
      case 'expiryIndex':
        return this.expiryIndex(c.shard);
      case 'outbox':
        return this.outbox(c.shard);
      case 'charges':
        return this.charges(c.shard);
      case 'chargedMessages':
        return this.chargedMessages(c.shard);
      case 'monitoring':
        return this.monitoring(c.subscriber, c.shard);
    }
  }

  /** Pattern matching every account key (SCAN), for reports. */
  accountPattern(): string {
    return `${this.prefix}acct:*`;
  }
}

function required(id: string | undefined, key: LedgerKeyName): string {
  if (id === undefined) throw new Error(`ledger key ${key} needs an id`);
  return id;
}
