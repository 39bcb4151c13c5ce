/**
 * Typed CH-2 client for callers of the Charging Enabler (the im-server, the CLI, tests).
 *
 * It speaks the NestJS NATS envelope (`{pattern, data, id}` → `{err, response, isDisposed, id}`) over a shared
 * reply subscription (NatsRequester: nc.request's protocol without its per-request costs), waits Tx (`timeoutMs`) for each answer and re-sends the same payload — hence the same `requestId`,
 * which the enabler deduplicates — up to `retries` times (ch2-contract.md "Timers and failure handling").
 * Business results are returned; only a missing answer throws (`Ch2TimeoutError`, `Ch2NoRespondersError`).
 */
import { randomUUID } from 'node:crypto';
import { NatsConnection } from 'nats';
import { Ch2NoRespondersError, Ch2RemoteError, Ch2TimeoutError } from './errors';
import { NatsNoRespondersError, NatsRequester, NatsRequestTimeoutError } from './nats-requester';
import { ch2Subject, Ch2Operation } from './subjects';
import type { Ch2RequestMap, Ch2ResponseMap } from './types';

export interface Ch2ClientOptions {
  /** Tx: how long to wait for one answer (default 2000 ms). */
  timeoutMs?: number;
  /** Re-sends with the same requestId after a timeout (default 2). */
  retries?: number;
  /** Deployment subject prefix (`NATS_SUBJECT_PREFIX`). */
  subjectPrefix?: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

interface NestReply<T> {
  err: unknown;
  response: T;
  isDisposed?: boolean;
  id?: string;
}

export class Ch2Client {
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly subjects: Record<Ch2Operation, string>;
  private readonly requester: NatsRequester;

  constructor(nc: NatsConnection, options: Ch2ClientOptions = {}) {
    this.requester = new NatsRequester(nc);
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.retries = options.retries ?? 2;
    const prefix = options.subjectPrefix ?? '';
    this.subjects = {
      reserve: ch2Subject('reserve', prefix),
      debit: ch2Subject('debit', prefix),
      debits: ch2Subject('debits', prefix),
      release: ch2Subject('release', prefix),
      'direct-debit': ch2Subject('direct-debit', prefix),
      refund: ch2Subject('refund', prefix),
      balance: ch2Subject('balance', prefix),
      price: ch2Subject('price', prefix),
      usage: ch2Subject('usage', prefix),
    };
  }

  reserve(req: Ch2RequestMap['reserve']) {
    return this.call('reserve', req);
  }
  debit(req: Ch2RequestMap['debit']) {
    return this.call('debit', req);
  }
  release(req: Ch2RequestMap['release']) {
    return this.call('release', req);
  }
  debits(req: Ch2RequestMap['debits']) {
    return this.call('debits', req);
  }
  directDebit(req: Ch2RequestMap['direct-debit']) {
    return this.call('direct-debit', req);
  }
  refund(req: Ch2RequestMap['refund']) {
    return this.call('refund', req);
  }
  balance(req: Ch2RequestMap['balance']) {
    return this.call('balance', req);
  }
  price(req: Ch2RequestMap['price']) {
    return this.call('price', req);
  }
  usage(req: Ch2RequestMap['usage']) {
    return this.call('usage', req);
  }

  /** Sends one CH-2 request, retrying on timeout with the same payload. */
  async call<Op extends Ch2Operation>(op: Op, data: Ch2RequestMap[Op]): Promise<Ch2ResponseMap[Op]> {
    const subject = this.subjects[op];
    const payload = enc.encode(JSON.stringify({ pattern: subject, data, id: randomUUID() }));
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.retries + 1; attempt++) {
      try {
        const msg = await this.requester.request(subject, payload, this.timeoutMs);
        const reply = JSON.parse(dec.decode(msg.data)) as NestReply<Ch2ResponseMap[Op]>;
        if (reply.err !== null && reply.err !== undefined) throw new Ch2RemoteError(subject, reply.err);
        return reply.response;
      } catch (e) {
        if (e instanceof NatsNoRespondersError) throw new Ch2NoRespondersError(subject, { cause: e });
        if (e instanceof NatsRequestTimeoutError) {
          lastError = e;
          continue;
        }
        throw e;
      }
    }
    throw new Ch2TimeoutError(subject, this.retries + 1, { cause: lastError });
  }
}
