/**
 * Advice of charge before a retrieval (retrieval-flow.md "Advice of charge", the AoC-S idea of 3GPP TS 24.647 asked
 * for outside a session): what retrieving every waiting message would cost now, priced by `ch2.price` (PRICE_ENQUIRY,
 * RFC 4006 §8.7 Cost-Information: nothing held, nothing charged), and how many of them, oldest first, the account
 * covers — the same longest-prefix rule the reservation applies, against what is available (balance less holds).
 * Stored receipts (IMDNs) are free and never priced; they are counted apart.
 */
import type { Ch2Item, PriceResponse } from '@imc/ch2';
import type { StoredMessageMeta } from '../store/deferred-store';
import type { BalanceLookup } from '../http/me.controller';

/** Items per PRICE_ENQUIRY (the CH-2 items cap, ch2-contract.md). */
const PRICE_BATCH = 10000;

export interface DeferredQuote {
  aor: string;
  /** Waiting messages that will be charged. */
  count: number;
  octets: number;
  /** Their total price, minor units. */
  price: number;
  currency: string;
  balance: number;
  /** Balance less what other sessions hold: what a reservation can take. */
  available: number;
  /** How many of the messages, oldest first, `available` covers. */
  affordable: number;
  /** Waiting receipts (IMDNs): delivered free. */
  receipts: number;
}

export type QuoteAnswer =
  | { kind: 'quote'; quote: DeferredQuote }
  | { kind: 'unavailable' }
  | { kind: 'no-account' }
  | { kind: 'refused'; result: string; message: string };

export interface QuotePorts {
  pending(aor: string): Promise<StoredMessageMeta[]>;
  price(aor: string, items: Ch2Item[]): Promise<PriceResponse | undefined>;
  balance: BalanceLookup;
}

export class DeferredQuoter {
  constructor(private readonly p: QuotePorts) {}

  async quote(aor: string): Promise<QuoteAnswer> {
    const waiting = await this.p.pending(aor);
    const charged = waiting.filter((m) => !m.receipt);
    const acct = await this.p.balance(aor);
    if (!acct) return { kind: 'unavailable' };
    if (acct.result === 'USER_UNKNOWN') return { kind: 'no-account' };
    if (acct.result !== 'SUCCESS' || acct.balance === undefined || !acct.currency) return { kind: 'refused', result: acct.result, message: `charging answered ${acct.result}` };
    const available = acct.available ?? acct.balance - (acct.reserved ?? 0);
    const prices: number[] = [];
    for (let i = 0; i < charged.length; i += PRICE_BATCH) {
      const items = charged.slice(i, i + PRICE_BATCH).map((m) => ({ id: m.id, octets: m.octets }));
      const r = await this.p.price(aor, items);
      if (!r) return { kind: 'unavailable' };
      if (r.result !== 'SUCCESS' || !r.prices || r.prices.length !== items.length) return { kind: 'refused', result: r.result, message: r.message ?? `charging answered ${r.result}` };
      if (r.currency !== acct.currency) return { kind: 'refused', result: 'RATING_FAILED', message: `the tariff is in ${r.currency} but the account is in ${acct.currency}` };
      prices.push(...r.prices);
    }
    let price = 0;
    let affordable = 0;
    prices.forEach((p, i) => {
      price += p;
      if (price <= available && affordable === i) affordable = i + 1; // a prefix: the first one not covered ends it
    });
    return {
      kind: 'quote',
      quote: {
        aor,
        count: charged.length,
        octets: charged.reduce((n, m) => n + m.octets, 0),
        price,
        currency: acct.currency,
        balance: acct.balance,
        available,
        affordable,
        receipts: waiting.length - charged.length,
      },
    };
  }
}
