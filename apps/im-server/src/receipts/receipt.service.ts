/**
 * Delivery notifications back to the sender (retrieval-flow.md "Delivery notifications back to the sender",
 * RFC 5438): `delivered(meta)` once the recipient's MSRP 200 OK arrived, `failed(meta)` when a message leaves the
 * store undelivered (it expired). Each only when the stored message asked for it (`positive-delivery`,
 * `negative-delivery` in its `imdn.Disposition-Notification`) and named itself (`imdn.Message-ID`); never for a
 * stored receipt (an IMDN never asks for an IMDN, §7.1.1); only to a sender of our domain (a sender elsewhere could
 * be reached only through `imdn.IMDN-Record-Route`, which is not kept).
 *
 * Once per message: a Redis marker (SET NX with a TTL, keyed by the recipient's mailbox and the message id) is
 * taken before anything is sent, so a second im-server replica, a redelivery after a crash between the 200 and the
 * deletion, or a second sweep finds it and sends nothing. One delivery notification per message, whichever comes
 * first. A process that dies between the marker and the send loses that receipt (at most once, never twice).
 *
 * Then: to a registered sender as a SIP MESSAGE (receipt-sender.ts); a sender with no binding that accepts it gets
 * it stored in their mailbox, marked as a receipt (never reserved, never charged, delivered in their next retrieval).
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '@imc/runtime';
import type { DeferredStore, StoredMessageMeta } from '../store/deferred-store';
import type { UserStore } from '../store/user-store';
import { asksFor, buildReceiptCpim, IMDN_CONTENT_TYPE, ReceiptInput, receiptXml } from './imdn-receipt';
import type { ReceiptSender } from './receipt-sender';

/** What a receipt needs of the original message: the stored meta, or the expired message's watch entry. */
export type ReceiptSubject = Pick<StoredMessageMeta, 'id' | 'from' | 'to' | 'receivedAt' | 'imdnMessageId' | 'disposition' | 'receipt'>;

export type ReceiptOutcome = 'sent' | 'stored' | 'not-requested' | 'already-sent' | 'foreign-sender' | 'dropped';

export interface ReceiptServiceOptions {
  redis: RedisClient;
  keyPrefix: string;
  domain: string;
  /** How long the once-per-message marker lives (at least the message TTL, so a late redelivery still finds it). */
  markerTtlSeconds: number;
  users: Pick<UserStore, 'bindings'>;
  store: Pick<DeferredStore, 'deposit'>;
  sender: Pick<ReceiptSender, 'send'>;
  /** A receipt was stored for `aor` (the SIP front's message-summary NOTIFY). */
  onStored?: (aor: string) => void;
  log?: (m: string) => void;
  now?: () => Date;
}

export class ReceiptService {
  constructor(private readonly o: ReceiptServiceOptions) {}

  /** The message reached its recipient (MSRP 200 OK): `delivered`, if it asked `positive-delivery`. */
  delivered(meta: ReceiptSubject): Promise<ReceiptOutcome> {
    return this.notify(meta, 'delivered', 'positive-delivery');
  }

  /** The message left the store undelivered (expired): `failed`, if it asked `negative-delivery`. */
  failed(meta: ReceiptSubject): Promise<ReceiptOutcome> {
    return this.notify(meta, 'failed', 'negative-delivery');
  }

  private markerKey(meta: ReceiptSubject): string {
    return `${this.o.keyPrefix}imdn:sent:{${meta.to}}:${meta.id}`;
  }

  private async notify(meta: ReceiptSubject, status: 'delivered' | 'failed', asked: 'positive-delivery' | 'negative-delivery'): Promise<ReceiptOutcome> {
    if (meta.receipt || !meta.imdnMessageId || !asksFor(meta.disposition, asked)) return 'not-requested';
    const sender = meta.from;
    if (!sender.toLowerCase().endsWith(`@${this.o.domain.toLowerCase()}`)) return 'foreign-sender';
    const key = this.markerKey(meta);
    if ((await this.o.redis.set(key, status, 'EX', this.o.markerTtlSeconds, 'NX')) !== 'OK') return 'already-sent';
    const now = (this.o.now ?? (() => new Date()))();
    const r: ReceiptInput = {
      status,
      originalMessageId: meta.imdnMessageId,
      originalDateTime: meta.receivedAt,
      recipient: meta.to,
      sender,
      messageId: randomUUID(),
      now: now.toISOString(),
    };
    try {
      if (await this.o.sender.send(await this.o.users.bindings(sender), meta.to, sender, buildReceiptCpim(r))) return 'sent';
      // offline: a deferred item of the sender's, marked as a receipt (free); the stored part is the IMDN itself
      const stored = await this.o.store.deposit(sender, {
        from: meta.to,
        to: sender,
        contentType: IMDN_CONTENT_TYPE,
        body: new TextEncoder().encode(receiptXml(r)),
        imdnMessageId: r.messageId,
        receipt: true,
        receivedAt: now,
      });
      if (!stored.ok) {
        this.o.log?.(`IMDN ${status} for ${meta.imdnMessageId} to ${sender} dropped: ${stored.reason}`);
        return 'dropped';
      }
      this.o.onStored?.(sender);
      return 'stored';
    } catch (e) {
      // nothing went out: free the marker so that a later attempt (the next sweep, a redelivery) can send it
      await this.o.redis.del(key).catch(() => undefined);
      throw e;
    }
  }
}
