/**
 * IMDN receipts (RFC 5438) as the im-server sends them back to a sender: a `message/imdn+xml` notification
 * (delivered / failed / displayed) naming the original `imdn.Message-ID`, wrapped in CPIM as RFC 5438 §7 has it —
 * CPIM From the original recipient, To the original sender, its own `imdn.Message-ID`, no
 * `imdn.Disposition-Notification` (§7.1.1: an IMDN never asks for an IMDN) — and the MIME part with
 * `Content-Disposition: notification` (§7.2.1.1). Also tells a deposit that IS an IMDN (a recipient's `displayed`)
 * from a message, so it is stored as a receipt and never charged.
 */
import { buildImdn, Imdn, unwrapCpim, wrapCpim } from '@imc/msrp';

export const IMDN_CONTENT_TYPE = 'message/imdn+xml';

export interface ReceiptInput {
  status: Extract<Imdn['status'], 'delivered' | 'failed' | 'displayed'>;
  /** The original message's `imdn.Message-ID`. */
  originalMessageId: string;
  /** The original message's DateTime (RFC 5438 §7.2.1.1 `datetime`: when the original was sent). */
  originalDateTime: string;
  /** The original recipient: the IMDN's CPIM From and `recipient-uri`. */
  recipient: string;
  /** The original sender: the IMDN's CPIM To. */
  sender: string;
  /** The IMDN's own Message-ID (RFC 5438 §6.3: globally unique). */
  messageId: string;
  /** When the IMDN is made (RFC 3339). */
  now: string;
}

/** The inner MIME part of a receipt: its MIME headers, a blank line, the IMDN XML. */
export function receiptMimePart(xml: string): Uint8Array {
  return new TextEncoder().encode(`Content-Type: ${IMDN_CONTENT_TYPE}\r\nContent-Disposition: notification\r\n\r\n${xml}`);
}

export function receiptXml(r: ReceiptInput): string {
  return buildImdn({ messageId: r.originalMessageId, dateTime: r.originalDateTime, status: r.status, recipient: r.recipient });
}

/** The whole receipt as a SIP MESSAGE body (`Content-Type: message/cpim`). */
export function buildReceiptCpim(r: ReceiptInput): Uint8Array {
  return wrapCpim({ from: r.recipient, to: r.sender, dateTime: r.now, imdnMessageId: r.messageId }, receiptMimePart(receiptXml(r)));
}

/**
 * Whether a deposit is itself an IMDN (bare `message/imdn+xml`, or CPIM whose content is) — a receipt passed on from
 * a recipient's client, stored free and delivered like a message. Returns the IMDN's own Message-ID when it has one.
 */
export function receiptDepositOf(contentType: string, body: Uint8Array): { receipt: true; imdnMessageId?: string } | undefined {
  const type = contentType.split(';')[0].trim().toLowerCase();
  if (type === IMDN_CONTENT_TYPE) return { receipt: true };
  if (type !== 'message/cpim') return undefined;
  const c = unwrapCpim(body);
  if (c?.contentType?.split(';')[0].trim().toLowerCase() !== IMDN_CONTENT_TYPE) return undefined;
  return { receipt: true, ...(c.imdnMessageId ? { imdnMessageId: c.imdnMessageId } : {}) };
}

/**
 * The CPIM content a stored receipt is delivered with: its IMDN as a `notification` part — the stored IMDN itself
 * (bare `message/imdn+xml`), or the content of the CPIM it was deposited in (a recipient's `displayed`), so that it is
 * never a CPIM inside a CPIM. Undefined for anything else (delivered as stored).
 */
export function storedReceiptPart(contentType: string, body: Uint8Array): Uint8Array | undefined {
  const type = contentType.split(';')[0].trim().toLowerCase();
  if (type === IMDN_CONTENT_TYPE) return receiptMimePart(new TextDecoder().decode(body));
  if (type === 'message/cpim' && receiptDepositOf(contentType, body)) return unwrapCpim(body)?.inner;
  return undefined;
}

/** Whether a disposition request (`imdn.Disposition-Notification`) lists `kind`. */
export function asksFor(disposition: string | undefined, kind: 'positive-delivery' | 'negative-delivery' | 'display'): boolean {
  return !!disposition && disposition.split(',').some((d) => d.trim().toLowerCase() === kind);
}

/**
 * The retrieval's split of what waits (retrieval-flow.md "Delivery notifications"): the messages to reserve and
 * charge, in order, and the stored receipts, delivered free beside them.
 */
export function partitionReceipts<T extends { receipt?: true }>(pending: readonly T[]): { chargeable: T[]; receipts: T[] } {
  const chargeable: T[] = [];
  const receipts: T[] = [];
  for (const m of pending) (m.receipt ? receipts : chargeable).push(m);
  return { chargeable, receipts };
}
