/**
 * The background-retrieval resource (TS 29.122 §4.5.3 T8 "Resource management of Background Data Transfer", in this
 * product's terms: docs/windows-and-usage.md) and its events (TS 26.512 §10.3.2 M6).
 */
export interface TimeWindow {
  startTime: string;
  stopTime: string;
}

export interface TransferPolicy {
  bdtPolicyId: number;
  recTimeWindow: TimeWindow;
  ratingGroup: string;
  /** Maximum downlink bit rate, e.g. "2 Mbps" (TS 29.122 BitRate), when the operator configured one. */
  maxBitRateDl?: string;
  /** The tariff window occurrence the policy books capacity in. */
  windowId: string;
}

export type BdtState = 'offered' | 'selected' | 'cancelled';

/** What was negotiated: fixed once the resource is created (the PATCH may only select a policy). */
export interface BdtNegotiation {
  bdtReferenceId: string;
  asId: string;
  volumePerUe: { totalVolume: number };
  numberOfUes: number;
  desiredTimeWindow: TimeWindow;
  ratingGroup?: string;
  transferPolicies: TransferPolicy[];
  createdAt: string;
}

export interface BdtResource extends BdtNegotiation {
  state: BdtState;
  selectedPolicy?: number;
  /** Why a resource was cancelled by the operator. */
  reason?: string;
}

/** Published on `im.bdt.opportunity` when a selected window opens (M6 BACKGROUND_DATA_TRANSFER_OPPORTUNITY). */
export interface BdtOpportunityEvent {
  event: 'BACKGROUND_DATA_TRANSFER_OPPORTUNITY';
  bdtReferenceId: string;
  asId: string;
  windowStart: string;
  windowEnd: string;
  /** The data volume quota: octets per user. */
  volumeQuota: number;
  numberOfUes: number;
  ratingGroup: string;
  maxBitRateDl?: string;
}

/** Published on `im.bdt.error` when a window is cancelled before its end (M6 ERROR_BACKGROUND_DATA_TRANSFER). */
export interface BdtErrorEvent {
  event: 'ERROR_BACKGROUND_DATA_TRANSFER';
  bdtReferenceId: string;
  asId: string;
  reason: string;
  at: string;
}

export type BdtEvent = BdtOpportunityEvent | BdtErrorEvent;

/** The NATS subjects of the events (after SUBJECT_PREFIX). */
export const BDT_SUBJECTS = { opportunity: 'im.bdt.opportunity', error: 'im.bdt.error' } as const;
