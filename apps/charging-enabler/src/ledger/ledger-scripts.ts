/**
 * The ledger's Lua contract, in one table: each script (lua/<file>, one atomic operation), its KEYS by name, in
 * order, and the fields of its one argument object. Every ledger script takes its keys in KEYS (built by
 * ledger-keys.ts: prefixes and Cluster slots work) and exactly one ARGV, its argument object as JSON, which the
 * generated prelude (lua-prelude.ts) decodes with cjson into `A`. Money fields are integers of at most MAX_MONEY
 * (< 2^53): JSON and cjson carry them exactly.
 *
 * Each script's header lists the same KEYS and fields (`KEYS[i] <name>`, `A.<field>`, `?` when optional);
 * ledger-scripts.spec.ts fails when a header, a script's use of `A`/`KEYS` and this table disagree.
 */

import type { ScriptKeyContext } from './ledger-keys';

/** Every key a ledger script may receive, by name (each built by the LedgerKeys method of the same role). */
export type LedgerKeyName =
  | 'account'
  | 'idempotency'
  | 'reservation'
  | 'expiryIndex'
  | 'outbox'
  | 'charges'
  | 'chargedMessages'
  | 'monitoring';

/** A stored CH-2 answer and the notifications the script raised, both JSON text. */
export type AnswerReply = [response: string, notes: string];

export interface ReserveArgs {
  requestId: string;
  /** Seconds the answer is kept under the requestId. */
  idempotencyTtl: number;
  nowMs: number;
  validitySeconds: number;
  reservationId: string;
  /** The tariff's currency (the account must be kept in it). */
  currency: string;
  subscriber: string;
  service: string;
  sessionId?: string;
  /** The service's unit price (out-of-credit test). */
  unitPrice: number;
  expiresAt: string;
  /** The items' ids and rated prices, in request order (parallel arrays). */
  itemIds: string[];
  prices: number[];
}

export interface DebitArgs {
  requestId: string;
  idempotencyTtl: number;
  reservationId: string;
  itemId: string;
  outcome: string;
  octets: number;
  subscriber: string;
  /** The rated amount for the octets used (bounded by the item's hold). */
  amount: number;
  unitPrice: number;
  nowIso: string;
  /** The shard tag (`s<N>`), the cdrId prefix. */
  shardTag: string;
  /** The day of the debit, yyyymmdd (usage counters). */
  day: string;
  sessionId?: string;
  /** The service the debit was rated for (must be the reservation's). */
  service: string;
  /** The debit's event time (ms): a monitoring key's monitoring time splits usage by it. */
  atMs: number;
  /** The rating group the amount was priced at (written in the CDR). */
  ratingGroup?: string;
}

/** ch2.debits (debits-7.lua): DebitArgs's fields shared by the items once, each item's own in `items`. */
type DebitItemField = 'requestId' | 'itemId' | 'outcome' | 'octets' | 'amount' | 'ratingGroup';
export type DebitsItemArgs = Pick<DebitArgs, DebitItemField>;
export type DebitsArgs = Omit<DebitArgs, Exclude<DebitItemField, 'requestId'>> & { items: DebitsItemArgs[] };

export interface ReleaseArgs {
  requestId: string;
  idempotencyTtl: number;
  reservationId: string;
  subscriber: string;
  nowIso: string;
  shardTag: string;
  sessionId?: string;
  /** Now (ms): a monitoring key's session time runs from the reserve to the release. */
  nowMs: number;
  /** The release's event time (ms). */
  atMs: number;
}

export interface DirectDebitArgs {
  requestId: string;
  idempotencyTtl: number;
  subscriber: string;
  service: string;
  sessionId?: string;
  currency: string;
  /** The total price of all the items. */
  total: number;
  /** The outcome that caused the charge (delivered | rejected | timeout). */
  outcome?: string;
  unitPrice: number;
  nowIso: string;
  shardTag: string;
  day: string;
  /** The items' ids, rated prices and octets (parallel arrays). */
  itemIds: string[];
  prices: number[];
  octets: number[];
  /** The charge's event time (ms). */
  atMs: number;
  /** The rating group every item was priced at (written in the CDR). */
  ratingGroup?: string;
}

export interface RefundArgs {
  requestId: string;
  idempotencyTtl: number;
  cdrId: string;
  /** Absent: all that is left of the charge. */
  amount?: number;
  subscriber: string;
  nowIso: string;
  shardTag: string;
  sessionId?: string;
  /** The highest balance allowed (MAX_MONEY, libs/ch2 money.ts). */
  maxBalance: number;
}

export interface TopUpArgs {
  requestId: string;
  idempotencyTtl: number;
  amount: number;
  subscriber: string;
  nowIso: string;
  shardTag: string;
  maxBalance: number;
}

export interface CreateAccountArgs {
  subscriber: string;
  balance: number;
  currency: string;
  nowIso: string;
  lowBalance?: number;
  usageCount?: number;
  usageOctets?: number;
}

/** A threshold: a number sets it, `null` removes it, absent leaves it. */
export interface UpdateAccountArgs {
  state?: string;
  lowBalance?: number | null;
  usageCount?: number | null;
  usageOctets?: number | null;
}

export interface ExpireArgs {
  reservationId: string;
  nowMs: number;
  nowIso: string;
  shardTag: string;
}

/** Thresholds of a monitoring key, each at least 1 (docs/windows-and-usage.md "Usage monitoring"). */
export interface UsageThresholds {
  count?: number;
  octets?: number;
  sessionMs?: number;
}

export interface UsageArgs {
  requestId: string;
  idempotencyTtl: number;
  subscriber: string;
  /** Absent: every key of the account. */
  monitoringKey?: string;
  /** Report the usage (a `request` usage report) and start again from zero. */
  reset: boolean;
  /** The thresholds of the cycle in progress (the acknowledgement of a report); needs monitoringKey. */
  rearm?: UsageThresholds;
  atMs: number;
  nowIso: string;
  shardTag: string;
}

/** A monitoring key's configuration as the admin API sets it. */
export interface MonitoringKeyConfig {
  /** A CH-2 service, or `*` for every service. */
  service: string;
  thresholds: UsageThresholds;
  /** ISO 8601; `mtMs` is the same instant in ms. */
  monitoringTime?: string;
  mtMs?: number;
  /** The thresholds on the usage after monitoringTime (default: the key's thresholds). */
  afterThresholds?: UsageThresholds;
}

export interface MonitoringKeyArgs {
  subscriber: string;
  name: string;
  /** Absent: remove the key. */
  config?: MonitoringKeyConfig;
  atMs: number;
  nowIso: string;
  shardTag: string;
}

/** One row of the table. `A` (the argument object) and `R` (the reply) exist for the types only. */
export interface LedgerScript<K extends LedgerKeyName, A, R> {
  /** The file under lua/, `<name>-<key count>.lua`. */
  readonly file: string;
  /** KEYS, in order. */
  readonly keys: readonly K[];
  /** Every field of the argument object, in the header's order; `?` marks an optional one. */
  readonly fields: readonly FieldSpec<A>[];
  readonly __types?: [A, R];
}

type FieldSpec<A> = { [F in keyof A & string]-?: undefined extends A[F] ? `${F}?` : F }[keyof A & string];

/** The fields, checked to name every field of `A` (with `?` exactly on the optional ones) and nothing else. */
function script<A, R>() {
  return <const K extends LedgerKeyName, const Fs extends readonly FieldSpec<A>[]>(
    file: string,
    keys: readonly K[],
    fields: Fs & (Exclude<FieldSpec<A>, Fs[number]> extends never ? unknown : { missing: Exclude<FieldSpec<A>, Fs[number]> }),
  ): LedgerScript<K, A, R> => ({ file, keys, fields });
}

export const LEDGER_SCRIPTS = {
  reserve: script<ReserveArgs, AnswerReply>()(
    'reserve-4.lua',
    ['account', 'idempotency', 'reservation', 'expiryIndex'],
    ['requestId', 'idempotencyTtl', 'nowMs', 'validitySeconds', 'reservationId', 'currency', 'subscriber', 'service',
      'sessionId?', 'unitPrice', 'expiresAt', 'itemIds', 'prices'],
  ),
  debit: script<DebitArgs, AnswerReply>()(
    'debit-7.lua',
    ['account', 'idempotency', 'reservation', 'outbox', 'charges', 'chargedMessages', 'monitoring'],
    ['requestId', 'idempotencyTtl', 'reservationId', 'itemId', 'outcome', 'octets', 'subscriber', 'amount', 'unitPrice',
      'nowIso', 'shardTag', 'day', 'sessionId?', 'service', 'atMs', 'ratingGroup?'],
  ),
  debits: script<DebitsArgs, AnswerReply>()(
    'debits-7.lua',
    ['account', 'idempotency', 'reservation', 'outbox', 'charges', 'chargedMessages', 'monitoring'],
    ['requestId', 'idempotencyTtl', 'reservationId', 'subscriber', 'unitPrice', 'nowIso', 'shardTag', 'day', 'sessionId?',
      'service', 'atMs', 'items'],
  ),
  release: script<ReleaseArgs, AnswerReply>()(
    'release-6.lua',
    ['account', 'idempotency', 'reservation', 'expiryIndex', 'outbox', 'monitoring'],
    ['requestId', 'idempotencyTtl', 'reservationId', 'subscriber', 'nowIso', 'shardTag', 'sessionId?', 'nowMs', 'atMs'],
  ),
  directDebit: script<DirectDebitArgs, AnswerReply>()(
    'direct-debit-6.lua',
    ['account', 'idempotency', 'outbox', 'charges', 'chargedMessages', 'monitoring'],
    ['requestId', 'idempotencyTtl', 'subscriber', 'service', 'sessionId?', 'currency', 'total', 'outcome?', 'unitPrice',
      'nowIso', 'shardTag', 'day', 'itemIds', 'prices', 'octets', 'atMs', 'ratingGroup?'],
  ),
  refund: script<RefundArgs, AnswerReply>()(
    'refund-5.lua',
    ['account', 'idempotency', 'outbox', 'charges', 'chargedMessages'],
    ['requestId', 'idempotencyTtl', 'cdrId', 'amount?', 'subscriber', 'nowIso', 'shardTag', 'sessionId?', 'maxBalance'],
  ),
  topUp: script<TopUpArgs, AnswerReply>()(
    'top-up-3.lua',
    ['account', 'idempotency', 'outbox'],
    ['requestId', 'idempotencyTtl', 'amount', 'subscriber', 'nowIso', 'shardTag', 'maxBalance'],
  ),
  createAccount: script<CreateAccountArgs, 0 | 1>()(
    'create-account-1.lua',
    ['account'],
    ['subscriber', 'balance', 'currency', 'nowIso', 'lowBalance?', 'usageCount?', 'usageOctets?'],
  ),
  updateAccount: script<UpdateAccountArgs, 0 | 1>()(
    'update-account-1.lua',
    ['account'],
    ['state?', 'lowBalance?', 'usageCount?', 'usageOctets?'],
  ),
  expire: script<ExpireArgs, 0 | 1>()(
    'expire-5.lua',
    ['account', 'reservation', 'expiryIndex', 'outbox', 'monitoring'],
    ['reservationId', 'nowMs', 'nowIso', 'shardTag'],
  ),
  usage: script<UsageArgs, AnswerReply>()(
    'usage-4.lua',
    ['account', 'idempotency', 'monitoring', 'outbox'],
    ['requestId', 'idempotencyTtl', 'subscriber', 'monitoringKey?', 'reset', 'rearm?', 'atMs', 'nowIso', 'shardTag'],
  ),
  monitoringKey: script<MonitoringKeyArgs, string | 0>()(
    'monitoring-key-3.lua',
    ['account', 'monitoring', 'outbox'],
    ['subscriber', 'name', 'config?', 'atMs', 'nowIso', 'shardTag'],
  ),
} as const;

export type LedgerScriptName = keyof typeof LEDGER_SCRIPTS;

type Row<N extends LedgerScriptName> = (typeof LEDGER_SCRIPTS)[N];
export type LedgerKeysOf<N extends LedgerScriptName> = Row<N>['keys'][number];
export type LedgerArgsOf<N extends LedgerScriptName> = NonNullable<Row<N>['__types']>[0];
export type LedgerReplyOf<N extends LedgerScriptName> = NonNullable<Row<N>['__types']>[1];

/**
 * The typed calls: each script takes where its keys are (the subscriber's shard and the ids its keys need; the keys
 * themselves are built by LedgerKeys in the table's order) and its argument object.
 */
export type LedgerCommands = {
  [N in LedgerScriptName]: (at: ScriptKeyContext<LedgerKeysOf<N>>, args: LedgerArgsOf<N>) => Promise<LedgerReplyOf<N>>;
};
