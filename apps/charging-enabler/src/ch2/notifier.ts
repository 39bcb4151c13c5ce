/**
 * Publishes the notifications the ledger scripts decided on (ch2-contract.md "Events": out-of-credit,
 * credit-reallocated, threshold). The scripts raise each one once per crossing; this only delivers them
 * (core NATS, at-most-once, like the 3GPP event triggers they mirror).
 */
import type { NatsConnection } from 'nats';
import { notifySubject, NotifyEvent } from '@imc/ch2';

const enc = new TextEncoder();

export class Notifier {
  constructor(private readonly nc: () => NatsConnection | undefined, private readonly prefix: string) {}

  publish(subscriber: string, notes: Record<string, unknown>[]): void {
    const nc = this.nc();
    if (!nc || nc.isClosed()) return;
    const timestamp = new Date().toISOString();
    for (const n of notes) {
      const event = n.event as NotifyEvent;
      nc.publish(notifySubject(event, this.prefix), enc.encode(JSON.stringify({ ...n, subscriber, timestamp })));
    }
  }
}
