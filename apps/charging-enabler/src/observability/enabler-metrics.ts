/** Prometheus metrics of the enabler (operations.md "/metrics"), on a registry of its own per instance. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class EnablerMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'ch2_requests_total',
    help: 'CH-2 requests by subject and result',
    labelNames: ['subject', 'result'],
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'ch2_request_duration_seconds',
    help: 'CH-2 request handling time by subject',
    labelNames: ['subject'],
    buckets: [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly openReservations = new Gauge({
    name: 'ch2_reservations_open',
    help: 'Reservations currently holding credit',
    registers: [this.registry],
  });
  readonly cdrsRelayed = new Counter({
    name: 'ch2_cdrs_relayed_total',
    help: 'CDRs published from the Redis outbox to JetStream',
    registers: [this.registry],
  });
  readonly reservationsExpired = new Counter({
    name: 'ch2_reservations_expired_total',
    help: 'Reservations returned to the balance by the expiry sweeper',
    registers: [this.registry],
  });

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry });
  }

  /** The labelled series per subject and result, made once (prom-client hashes the label object on every call). */
  private readonly series = new Map<string, { count: Counter.Internal; time: Histogram.Internal<string> }>();

  observeCh2(op: string, result: string, seconds: number): void {
    const key = `${op} ${result}`;
    let s = this.series.get(key);
    if (!s) {
      s = { count: this.requests.labels(`ch2.${op}`, result), time: this.latency.labels(`ch2.${op}`) };
      this.series.set(key, s);
    }
    s.count.inc();
    s.time.observe(seconds);
  }
}
