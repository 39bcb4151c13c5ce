/**
 * CH-2 payloads (spec/ch2-contract.md). Amounts are integers in the account currency's minor unit.
 */
import type { CdrType } from './subjects';
import type { Ch2Result } from './results';

export interface Ch2Common {
  /** 8–128 chars, unique per logical operation; a replay returns the first answer. */
  requestId: string;
  /** SIP/SIPS/tel URI of the account owner. */
  subscriber: string;
  /** Selects the tariff, e.g. `im.deferred-retrieval`. */
  service: string;
  /** ISO 8601 time of the event (time-of-day rating). */
  timestamp: string;
  /** SIP Call-ID, carried into CDRs. */
  sessionId?: string;
}

export interface Ch2Item {
  id: string;
  octets: number;
  /**
   * The rating group (a named price set of the tariff) this item is priced at instead of the time of day: a tagged
   * message retrieved inside its booked background window (docs/windows-and-usage.md). Absent: rated as usual.
   */
  ratingGroup?: string;
}

export type DebitOutcome = 'delivered' | 'rejected' | 'timeout';

export interface ReserveRequest extends Ch2Common {
  items: Ch2Item[];
  validitySeconds?: number;
}
export interface DebitRequest extends Ch2Common {
  reservationId: string;
  itemId: string;
  outcome: DebitOutcome;
  octets: number;
  /** The item's rating group, as it was reserved (see `Ch2Item.ratingGroup`). */
  ratingGroup?: string;
}
/** One debit of a ch2.debits batch: a ch2.debit's own fields, with its own requestId (its idempotency key). */
export interface DebitsItem {
  requestId: string;
  itemId: string;
  outcome: DebitOutcome;
  octets: number;
  ratingGroup?: string;
}
/**
 * ch2.debits: several debits of one reservation in one request (ch2-contract.md "ch2.debits"); `requestId` is the
 * batch's, each item keeps its own (a ch2.debit of an item's requestId gets the item's answer).
 */
export interface DebitsRequest extends Ch2Common {
  reservationId: string;
  items: DebitsItem[];
}
export interface ReleaseRequest extends Ch2Common {
  reservationId: string;
}
export interface DirectDebitRequest extends Ch2Common {
  items: Ch2Item[];
  /** The outcome that caused the charge, when it replaces a debit (written in the CDR). */
  outcome?: DebitOutcome;
}

/**
 * The charge that already covered a message (retrieval-flow.md "Charged once, whatever crashes"): a debit or direct
 * debit of a message charged before answers SUCCESS with `debitedAmount: 0`, no `cdrId`, and this.
 */
export interface ChargedBy {
  cdrId: string;
  outcome: DebitOutcome | '';
}
export interface RefundRequest extends Ch2Common {
  cdrId: string;
  amount?: number;
}
export interface BalanceRequest extends Ch2Common {
  items?: Ch2Item[];
}
export interface PriceRequest extends Ch2Common {
  items: Ch2Item[];
}

export interface Ch2ResponseBase {
  requestId: string;
  result: Ch2Result;
  resultCode: number;
  /** Human-readable reason for a non-success result. */
  message?: string;
  /** For INVALID_REQUEST: the fields that failed validation, each with its problem. */
  details?: string[];
  currency?: string;
}

export interface ReserveResponse extends Ch2ResponseBase {
  reservationId?: string;
  grantedItems?: string[];
  reservedAmount?: number;
  validitySeconds?: number;
  expiresAt?: string;
}
export interface DebitResponse extends Ch2ResponseBase {
  debitedAmount?: number;
  cdrId?: string;
  remainingReserved?: number;
  /** With UNKNOWN_RESERVATION: the item was already debited by an earlier request (charge it no other way). */
  settled?: boolean;
  /** With SUCCESS: the message had been charged before (another reservation, a direct debit); nothing was charged now. */
  chargedBy?: ChargedBy;
}
/** SUCCESS with every item's own ch2.debit answer, in request order (each names its requestId). */
export interface DebitsResponse extends Ch2ResponseBase {
  items?: DebitResponse[];
}
export interface ReleaseResponse extends Ch2ResponseBase {
  releasedAmount?: number;
}
export interface DirectDebitResponse extends Ch2ResponseBase {
  debitedAmount?: number;
  cdrId?: string;
  /** With SUCCESS: every item had been charged before; nothing was charged now. */
  chargedBy?: ChargedBy;
}
export interface RefundResponse extends Ch2ResponseBase {
  refundedAmount?: number;
  cdrId?: string;
}
export interface BalanceResponse extends Ch2ResponseBase {
  balance?: number;
  reserved?: number;
  available?: number;
  enoughCredit?: boolean;
}
export interface PriceResponse extends Ch2ResponseBase {
  amount?: number;
  /** The price of each item, in the order asked (their sum is `amount`). */
  prices?: number[];
  window?: string;
}

/** What a monitoring key measures (docs/windows-and-usage.md "Usage monitoring"). */
export interface UsageMeasures {
  count: number;
  octets: number;
  /** Session time: from a reservation's reserve to its release (or the end of its validity when it expires). */
  sessionMs: number;
}
/** Thresholds of a monitoring key, each an integer of at least 1. */
export type UsageThresholdsSpec = Partial<UsageMeasures>;

/**
 * `ch2.usage` (Gx USAGE_MONITORING_REPORT_REQUIRED): the usage per monitoring key since its last report. `service` is
 * optional here (keys name their own). `reset`: report the usage and start again from zero. `rearm` (with
 * `monitoringKey`): the thresholds of the cycle in progress — the acknowledgement of a report.
 */
export interface UsageRequest extends Omit<Ch2Common, 'service'> {
  service?: string;
  monitoringKey?: string;
  reset?: boolean;
  rearm?: UsageThresholdsSpec;
}
/** One key's usage since its last report; `before`/`after` when the key has a monitoring time. */
export interface MonitoringKeyUsage extends UsageMeasures {
  service: string;
  since: string;
  thresholds: UsageThresholdsSpec;
  monitoringTime?: string;
  before?: UsageMeasures;
  after?: UsageMeasures;
  /** With reset: the id of the usage report written. */
  reportId?: string;
}
export interface UsageResponse extends Ch2ResponseBase {
  monitoringKeys?: Record<string, MonitoringKeyUsage>;
  reset?: boolean;
}

/** A usage report as published on `ch2.usage.report` (a CDR-like record, id `<shard>-<outbox entry id>`). */
export interface UsageReport {
  cdrId: string;
  type: 'usage-report';
  subscriber: string;
  service: string;
  monitoringKey: string;
  /** `threshold` (reached: which measures), `request` (ch2.usage with reset), `removed` (the key was deleted). */
  trigger: 'threshold' | 'request' | 'removed';
  reached?: string;
  requestId?: string;
  /** The previous report (or when the key was set). */
  from: string;
  usage: Omit<MonitoringKeyUsage, 'thresholds' | 'reportId'>;
  timestamp: string;
}

export interface Ch2RequestMap {
  reserve: ReserveRequest;
  debit: DebitRequest;
  debits: DebitsRequest;
  release: ReleaseRequest;
  'direct-debit': DirectDebitRequest;
  refund: RefundRequest;
  balance: BalanceRequest;
  price: PriceRequest;
  usage: UsageRequest;
}
export interface Ch2ResponseMap {
  reserve: ReserveResponse;
  debit: DebitResponse;
  debits: DebitsResponse;
  release: ReleaseResponse;
  'direct-debit': DirectDebitResponse;
  refund: RefundResponse;
  balance: BalanceResponse;
  price: PriceResponse;
  usage: UsageResponse;
}

/** A charging data record, as published on `ch2.cdr.<type>` and listed by the admin API. */
export interface Cdr {
  cdrId: string;
  type: CdrType;
  subscriber: string;
  service: string;
  requestId: string;
  reservationId?: string;
  sessionId?: string;
  itemId?: string;
  octets?: number;
  outcome?: string;
  /** The rating group the charge was priced at (absent: the time of day's prices). */
  ratingGroup?: string;
  amount: number;
  currency: string;
  balanceAfter: number;
  timestamp: string;
}

/** Payload of `ch2.notify.*`. */
export interface Ch2Notification {
  event: 'out-of-credit' | 'credit-reallocated' | 'threshold';
  subscriber: string;
  service?: string;
  /** For threshold: which threshold (`low-balance`, `usage-count`, `usage-octets`) and its level. */
  threshold?: string;
  level?: number;
  value?: number;
  available?: number;
  balance?: number;
  currency?: string;
  timestamp: string;
}
