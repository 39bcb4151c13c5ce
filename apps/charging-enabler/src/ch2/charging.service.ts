/**
 * The CH-2 operations: validate at the boundary, rate, run the one ledger script, publish what it decided.
 * Business outcomes are responses, never exceptions (ch2-contract.md "Results"); a ledger failure answers
 * TOO_BUSY so the caller applies its failure handling.
 */
import {
  Ch2Operation,
  Ch2RequestMap,
  Ch2ResponseBase,
  Ch2ResultCode,
  Ch2Result,
  validateCh2Request,
} from '@imc/ch2';
import { RateLimitedLog } from '@imc/runtime';
import type { EnablerConfig } from '../config';
import { RedisCreditLedger, ScriptAnswer } from '../ledger/redis-credit-ledger';
import { TariffBook } from '../rating/tariff-book';
import { Notifier } from './notifier';
import { EnablerMetrics } from '../observability/enabler-metrics';

type AnyResponse = Ch2ResponseBase & Record<string, unknown>;
/** A CH-2 answer: built here, or a ledger script's stored answer passed on as its JSON text. */
export type Ch2Answer = AnyResponse | ScriptAnswer;

function reply(requestId: unknown, result: Ch2Result, extra: Record<string, unknown> = {}): AnyResponse {
  return { requestId: typeof requestId === 'string' ? requestId : '', result, resultCode: Ch2ResultCode[result], ...extra };
}

export interface ChargingLogger {
  error(message: string, context?: string): void;
}

export class ChargingService {
  private inFlight = 0;

  constructor(
    private readonly config: EnablerConfig,
    private readonly ledger: RedisCreditLedger,
    private readonly tariffs: TariffBook,
    private readonly notifier: Notifier,
    private readonly metrics: EnablerMetrics,
    private readonly logger: ChargingLogger,
    private readonly maxInFlight = 10000,
  ) {}

  /** Ledger failures (a Redis failover fails every request for seconds): one line per operation per second. */
  private readonly failures = new RateLimitedLog((line) => this.logger.error(line, 'ChargingService'));

  /** Entry point for every CH-2 subject. Never throws. */
  async handle(op: Ch2Operation, data: unknown): Promise<Ch2Answer> {
    const started = performance.now();
    let res: Ch2Answer;
    if (this.inFlight >= this.maxInFlight) {
      res = reply((data as { requestId?: unknown })?.requestId, 'TOO_BUSY', { message: 'charging enabler is shedding load' });
    } else {
      this.inFlight++;
      try {
        res = await this.dispatch(op, data);
      } catch (e) {
        this.failures.log(op, `ch2.${op} failed: ${(e as Error).message}`);
        res = reply((data as { requestId?: unknown })?.requestId, 'TOO_BUSY', { message: 'credit ledger unavailable' });
      } finally {
        this.inFlight--;
      }
    }
    this.metrics.observeCh2(op, res.result, (performance.now() - started) / 1000);
    return res;
  }

  private async dispatch(op: Ch2Operation, data: unknown): Promise<Ch2Answer> {
    const v = validateCh2Request(op, data);
    if (!v.ok) {
      return reply((data as { requestId?: unknown })?.requestId, 'INVALID_REQUEST', {
        message: `invalid ch2.${op} request: ${v.details.map((d) => d.split(':')[0]).join(', ')}`,
        details: v.details,
      });
    }
    switch (op) {
      case 'reserve':
        return this.reserve(v.value as Ch2RequestMap['reserve']);
      case 'debit':
        return this.debit(v.value as Ch2RequestMap['debit']);
      case 'debits':
        return this.debits(v.value as Ch2RequestMap['debits']);
      case 'release':
        return this.release(v.value as Ch2RequestMap['release']);
      case 'direct-debit':
        return this.directDebit(v.value as Ch2RequestMap['direct-debit']);
      case 'refund':
        return this.refund(v.value as Ch2RequestMap['refund']);
      case 'balance':
        return this.balance(v.value as Ch2RequestMap['balance']);
      case 'price':
        return this.price(v.value as Ch2RequestMap['price']);
      case 'usage':
        return this.usage(v.value as Ch2RequestMap['usage']);
    }
  }

  private noTariff(requestId: string, service: string): AnyResponse {
    return reply(requestId, 'RATING_FAILED', { message: `no tariff for service ${service}` });
  }

  /** RATING_FAILED naming the rating groups the service's tariff does not have; undefined when all are known. */
  private unknownGroups(requestId: string, service: string, groups: (string | undefined)[]): AnyResponse | undefined {
    const bad = this.tariffs.unknownGroups(service, groups);
    if (!bad.length) return undefined;
    return reply(requestId, 'RATING_FAILED', { message: `no rating group ${bad.map((g) => JSON.stringify(g)).join(', ')} in the tariff of ${service}` });
  }

  private settle(subscriber: string, a: ScriptAnswer): ScriptAnswer {
    if (a.notes.length) this.notifier.publish(subscriber, a.notes);
    return a;
  }

  private async reserve(r: Ch2RequestMap['reserve']): Promise<Ch2Answer> {
    const octets = r.items.map((i) => i.octets);
    const groups = r.items.map((i) => i.ratingGroup);
    const unknown = this.unknownGroups(r.requestId, r.service, groups);
    if (unknown) return unknown;
    const rating = this.tariffs.rate(r.service, r.subscriber, r.timestamp, octets, groups);
    if (!rating) return this.noTariff(r.requestId, r.service);
    const validity = Math.min(r.validitySeconds ?? this.config.defaultValiditySeconds, this.config.maxValiditySeconds);
    const a = await this.ledger.reserve({
      requestId: r.requestId,
      subscriber: r.subscriber,
      service: r.service,
      sessionId: r.sessionId,
      currency: rating.currency,
      unitPrice: rating.unitPrice,
      validitySeconds: validity,
      items: r.items,
      prices: rating.prices,
      nowMs: Date.now(),
    });
    return this.settle(r.subscriber, a);
  }

  private async debit(r: Ch2RequestMap['debit']): Promise<Ch2Answer> {
    const unknown = this.unknownGroups(r.requestId, r.service, [r.ratingGroup]);
    if (unknown) return unknown;
    const rating = this.tariffs.rate(r.service, r.subscriber, r.timestamp, [r.octets], [r.ratingGroup]);
    if (!rating) return this.noTariff(r.requestId, r.service);
    const a = await this.ledger.debit({
      ratingGroup: r.ratingGroup,
      requestId: r.requestId,
      subscriber: r.subscriber,
      reservationId: r.reservationId,
      itemId: r.itemId,
      outcome: r.outcome,
      octets: r.octets,
      service: r.service,
      amount: rating.prices[0],
      unitPrice: rating.unitPrice,
      sessionId: r.sessionId,
      nowIso: new Date().toISOString(),
      atMs: Date.parse(r.timestamp),
    });
    return this.settle(r.subscriber, a);
  }

  /** Several debits of one reservation, each rated and applied as `debit` would (one script, debits-7.lua). */
  private async debits(r: Ch2RequestMap['debits']): Promise<Ch2Answer> {
    const groups = r.items.map((i) => i.ratingGroup);
    const unknown = this.unknownGroups(r.requestId, r.service, groups);
    if (unknown) return unknown;
    const rating = this.tariffs.rate(r.service, r.subscriber, r.timestamp, r.items.map((i) => i.octets), groups);
    if (!rating) return this.noTariff(r.requestId, r.service);
    const items = r.items.map((i, k) => ({ requestId: i.requestId, itemId: i.itemId, outcome: i.outcome, octets: i.octets, amount: rating.prices[k], ratingGroup: i.ratingGroup }));
    const a = await this.ledger.debits({
      requestId: r.requestId, subscriber: r.subscriber, reservationId: r.reservationId, service: r.service, unitPrice: rating.unitPrice,
      sessionId: r.sessionId, nowIso: new Date().toISOString(), atMs: Date.parse(r.timestamp), items,
    });
    return this.settle(r.subscriber, a);
  }

  private async release(r: Ch2RequestMap['release']): Promise<Ch2Answer> {
    const a = await this.ledger.release({
      requestId: r.requestId,
      subscriber: r.subscriber,
      reservationId: r.reservationId,
      sessionId: r.sessionId,
      nowMs: Date.now(),
      atMs: Date.parse(r.timestamp),
    });
    return this.settle(r.subscriber, a);
  }

  /** A direct debit charges each message once: one the charge-once marks name is left out (debit-7.lua, direct-debit-6.lua). */
  private async directDebit(r: Ch2RequestMap['direct-debit']): Promise<Ch2Answer> {
    const octets = r.items.map((i) => i.octets);
    const groups = r.items.map((i) => i.ratingGroup);
    const unknown = this.unknownGroups(r.requestId, r.service, groups);
    if (unknown) return unknown;
    const rating = this.tariffs.rate(r.service, r.subscriber, r.timestamp, octets, groups);
    if (!rating) return this.noTariff(r.requestId, r.service);
    const a = await this.ledger.directDebit({
      // the CDR names the rating group when every item was priced at the same one
      ratingGroup: groups.every((g) => g === groups[0]) ? groups[0] : undefined,
      requestId: r.requestId,
      subscriber: r.subscriber,
      service: r.service,
      sessionId: r.sessionId,
      currency: rating.currency,
      total: rating.total,
      items: r.items,
      prices: rating.prices,
      outcome: r.outcome,
      unitPrice: rating.unitPrice,
      nowIso: new Date().toISOString(),
      atMs: Date.parse(r.timestamp),
    });
    return this.settle(r.subscriber, a);
  }

  private async refund(r: Ch2RequestMap['refund']): Promise<Ch2Answer> {
    const a = await this.ledger.refund({
      requestId: r.requestId,
      subscriber: r.subscriber,
      cdrId: r.cdrId,
      amount: r.amount,
      sessionId: r.sessionId,
      nowIso: new Date().toISOString(),
    });
    return this.settle(r.subscriber, a);
  }

  private async balance(r: Ch2RequestMap['balance']): Promise<AnyResponse> {
    const acct = await this.ledger.balanceOf(r.subscriber);
    if (!acct) return reply(r.requestId, 'USER_UNKNOWN', { message: `no account for ${r.subscriber}` });
    const available = acct.balance - acct.reserved;
    const out = reply(r.requestId, 'SUCCESS', {
      balance: acct.balance,
      reserved: acct.reserved,
      available,
      currency: acct.currency,
    });
    if (r.items) {
      const rating = this.tariffs.rate(r.service, r.subscriber, r.timestamp, r.items.map((i) => i.octets));
      if (!rating) return this.noTariff(r.requestId, r.service);
      if (rating.currency !== acct.currency)
        return reply(r.requestId, 'RATING_FAILED', {
          currency: acct.currency,
          message: `tariff for ${r.service} is in ${rating.currency} but the account is in ${acct.currency}`,
        });
      // RFC 4006 §8.48 Check-Balance-Result: ENOUGH_CREDIT / NO_CREDIT, without reserving.
      out.enoughCredit = available >= rating.total;
    }
    return out;
  }

  /** Usage per monitoring key since its last report (docs/windows-and-usage.md "Usage monitoring"). */
  private usage(r: Ch2RequestMap['usage']): Promise<ScriptAnswer> {
    const { requestId, subscriber, monitoringKey, reset, rearm } = r;
    return this.ledger.monitoring.usage({ requestId, subscriber, monitoringKey, reset, rearm, atMs: Date.parse(r.timestamp) });
  }

  private async price(r: Ch2RequestMap['price']): Promise<AnyResponse> {
    const groups = r.items.map((i) => i.ratingGroup);
    const unknown = this.unknownGroups(r.requestId, r.service, groups);
    if (unknown) return unknown;
    const rating = this.tariffs.rate(r.service, r.subscriber, r.timestamp, r.items.map((i) => i.octets), groups);
    if (!rating) return this.noTariff(r.requestId, r.service);
    // RFC 4006 §8.7 Cost-Information: the price of the items, no account change; `prices` per item, in order (advice
    // of charge: how many of them, in order, a balance covers)
    return reply(r.requestId, 'SUCCESS', { amount: rating.total, prices: rating.prices, currency: rating.currency, ...(rating.window ? { window: rating.window } : {}) });
  }
}
