/**
 * CH-2 subjects, defined once (spec/ch2-contract.md "Operations (subjects)" and "Events").
 * Every subject may carry a deployment prefix (`NATS_SUBJECT_PREFIX`) so several isolated stacks share one NATS.
 */
export const CH2_OPERATIONS = ['reserve', 'debit', 'debits', 'release', 'direct-debit', 'refund', 'balance', 'price', 'usage'] as const;
export type Ch2Operation = (typeof CH2_OPERATIONS)[number];

/** The queue group every enabler replica joins, so replicas share the load. */
export const CH2_QUEUE_GROUP = 'charging-enabler';

export const CDR_TYPES = ['debit', 'direct-debit', 'refund', 'release', 'expire', 'top-up'] as const;
export type CdrType = (typeof CDR_TYPES)[number];

export const NOTIFY_EVENTS = ['out-of-credit', 'credit-reallocated', 'threshold'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** Default JetStream stream holding the CDRs. */
export const DEFAULT_CDR_STREAM = 'CHARGING';

export function ch2Subject(op: Ch2Operation, prefix = ''): string {
  return `${prefix}ch2.${op}`;
}

export function cdrSubject(type: CdrType, prefix = ''): string {
  return `${prefix}ch2.cdr.${type}`;
}

/**
 * The usage reports of monitoring keys (docs/windows-and-usage.md "Usage monitoring"): CDR-like records written to the
 * ledger's outbox as type `usage-report` and relayed to this subject of the CDR stream.
 */
export const USAGE_REPORT_TYPE = 'usage-report';

export function usageReportSubject(prefix = ''): string {
  return `${prefix}ch2.usage.report`;
}

/** Wildcard for all CDR subjects (the JetStream stream's subject filter). */
export function cdrSubjectWildcard(prefix = ''): string {
  return `${prefix}ch2.cdr.>`;
}

export function notifySubject(event: NotifyEvent, prefix = ''): string {
  return `${prefix}ch2.notify.${event}`;
}
