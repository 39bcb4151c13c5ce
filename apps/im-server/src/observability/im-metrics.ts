/** Prometheus metrics of the im-server (operations.md "/metrics"), on a registry of its own per instance. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ImMetrics {
  readonly registry = new Registry();
  private readonly sip = new Counter({ name: 'sip_requests_total', help: 'SIP requests by method and final status', labelNames: ['method', 'status'], registers: [this.registry] });
  private readonly msrp = new Counter({ name: 'msrp_sends_total', help: 'Deferred messages sent over MSRP by outcome', labelNames: ['outcome'], registers: [this.registry] });
  private readonly ch2 = new Counter({ name: 'ch2_requests_total', help: 'CH-2 requests sent by subject and result', labelNames: ['subject', 'result'], registers: [this.registry] });
  private readonly ch2Latency = new Histogram({ name: 'ch2_request_duration_seconds', help: 'CH-2 round trip by subject', labelNames: ['subject'], buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 2, 5], registers: [this.registry] });
  private readonly deposits = new Counter({ name: 'im_deposits_total', help: 'Messages stored for later retrieval', registers: [this.registry] });
  private readonly auth = new Counter({ name: 'sip_auth_failures_total', help: 'Failed SIP authentications by reason', labelNames: ['reason'], registers: [this.registry] });
  private readonly httpAuth = new Counter({ name: 'http_auth_failures_total', help: 'Failed HTTP Basic authentications (/v1/me) by reason', labelNames: ['reason'], registers: [this.registry] });
  private readonly throttled = new Counter({
    name: 'auth_throttled_total',
    help: 'Credential checks refused unchecked after too many wrong guesses, by interface (sip, http) and the limit hit (source, account)',
    labelNames: ['interface', 'scope'],
    registers: [this.registry],
  });
  readonly storedMessages = new Gauge({ name: 'im_stored_messages', help: 'Deferred messages stored (sampled at scrape)', registers: [this.registry] });
  readonly sessions = new Gauge({ name: 'im_retrieval_sessions', help: 'Retrieval sessions in progress', registers: [this.registry] });
  readonly retryQueue = new Gauge({ name: 'ch2_retry_queue_depth', help: 'CH-2 requests waiting in the durable retry queue', registers: [this.registry] });
  readonly inviteLatency = new Histogram({ name: 'im_invite_to_200_seconds', help: 'INVITE to 200 OK of retrievals', buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 2], registers: [this.registry] });

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry });
  }

  sipRequest(method: string, status: number): void {
    this.sip.inc({ method, status: String(status) });
  }
  msrpSend(outcome: string): void {
    this.msrp.inc({ outcome });
  }
  observeCh2(subject: string, result: string, seconds: number): void {
    this.ch2.inc({ subject, result });
    this.ch2Latency.observe({ subject }, seconds);
  }
  deposited(): void {
    this.deposits.inc();
  }
  /** `reason` is one of a fixed set (DigestFailure, 'bad-identity') — never a user name or an address. */
  authFailure(reason: string): void {
    this.auth.inc({ reason });
  }
  httpAuthFailure(reason: 'missing' | 'malformed' | 'unknown-user' | 'wrong-password'): void {
    this.httpAuth.inc({ reason });
  }
  authThrottled(iface: 'sip' | 'http', scope: 'source' | 'account'): void {
    this.throttled.inc({ interface: iface, scope });
  }
}
