/**
 * Request/reply over one shared reply subscription, for the hot paths (CH-2 calls, JetStream publishes of the CDR
 * relay). It does what `nc.request` does — a per-connection inbox `_INBOX.<nuid>.*`, a token per request, the
 * server's "no responders" status (503) — without the per-request costs of nats.js 2.x: its `RequestOne` settles a
 * successful request by also creating a `NatsError(CANCELLED)` (a stack trace per request, ~3 % of the enabler's CPU
 * under load in bench:charging's profile), plus a deferred and a timer object per call.
 *
 * Replies that arrive after their timeout are dropped. Closing the connection rejects nothing by itself: pending
 * requests end by their timeout, as with `nc.request`.
 */
import { createInbox, Msg, MsgHdrs, NatsConnection, Subscription } from 'nats';

export class NatsRequestTimeoutError extends Error {
  constructor(readonly subject: string, readonly timeoutMs: number) {
    super(`no reply on ${subject} within ${timeoutMs} ms`);
    this.name = 'NatsRequestTimeoutError';
  }
}

export class NatsNoRespondersError extends Error {
  constructor(readonly subject: string) {
    super(`no responders on ${subject}`);
    this.name = 'NatsNoRespondersError';
  }
}

interface Pending {
  subject: string;
  resolve(m: Msg): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class NatsRequester {
  private readonly prefix = `${createInbox()}.`;
  private readonly pending = new Map<string, Pending>();
  private sub?: Subscription;
  private seq = 0;

  constructor(private readonly nc: NatsConnection) {}

  /** Requests in flight (for tests and metrics). */
  get inFlight(): number {
    return this.pending.size;
  }

  request(subject: string, data: Uint8Array, timeoutMs: number, headers?: MsgHdrs): Promise<Msg> {
    if (!this.sub || this.sub.isClosed()) {
      this.sub = this.nc.subscribe(`${this.prefix}*`, { callback: (err, m) => !err && this.onReply(m) });
    }
    const token = (this.seq = (this.seq + 1) % Number.MAX_SAFE_INTEGER).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new NatsRequestTimeoutError(subject, timeoutMs));
      }, timeoutMs);
      this.pending.set(token, { subject, resolve, reject, timer });
      try {
        this.nc.publish(subject, data, headers ? { reply: this.prefix + token, headers } : { reply: this.prefix + token });
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(token);
        reject(e as Error);
      }
    });
  }

  private onReply(m: Msg): void {
    const token = m.subject.slice(this.prefix.length);
    const p = this.pending.get(token);
    if (!p) return; // late (after its timeout) or foreign
    this.pending.delete(token);
    clearTimeout(p.timer);
    // the server's "no responders" answer: an empty message with status 503 (NATS 2.2+ with headers)
    if (m.data.length === 0 && m.headers?.code === 503) p.reject(new NatsNoRespondersError(p.subject));
    else p.resolve(m);
  }
}
