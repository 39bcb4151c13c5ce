/**
 * The events of background windows (TS 26.512 §10.3.2 M6): `im.bdt.opportunity` when a selected window opens, and
 * `im.bdt.error` when a window is cancelled before its end. Every replica hears the opportunity on NATS
 * (`opportunityHeard`) and sends a message-summary NOTIFY to the users holding messages tagged with it among the
 * subscriptions it holds (a SIP subscription lives on the replica that took it). The events wait in Redis (`due`, scored by when they are due) and each is claimed by
 * one replica (claim-2.lua) before it is published, then acknowledged: one event per window across replicas, and a
 * restarted replica publishes what fell due while it was down at its first tick. Time comes from the clock.
 */
import type { BdtStore } from './bdt-store';
import { BDT_SUBJECTS, BdtEvent, BdtOpportunityEvent } from './bdt-types';
import type { Clock } from './bdt.service';

export interface BdtSchedulerOptions {
  /** How often the due events are looked at (BDT_TICK_MS). */
  tickMs: number;
  /** A claim not acknowledged after this long is taken again (the replica that held it died). */
  leaseMs: number;
}

export class BdtScheduler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  private again = false;

  constructor(
    private readonly store: BdtStore,
    private readonly publish: (subject: string, event: BdtEvent) => void | Promise<void>,
    private readonly mailboxChanged: (aor: string) => void,
    private readonly clock: Clock,
    private readonly opts: BdtSchedulerOptions = { tickMs: 1000, leaseMs: 30000 },
    private readonly onError: (e: Error) => void = () => undefined,
  ) {}

  /** Publishes every event due now; returns how many. Ticks never overlap: a tick asked for during one follows it. */
  tick(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.run().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        void this.tick().catch((e: Error) => this.onError(e));
      }
    });
    return this.running;
  }

  private async run(): Promise<number> {
    let n = 0;
    for (;;) {
      const batch = await this.store.claim(this.clock.now(), this.opts.leaseMs, 100);
      for (const raw of batch) {
        const e = JSON.parse(raw) as BdtEvent;
        await this.publish(e.event === 'BACKGROUND_DATA_TRANSFER_OPPORTUNITY' ? BDT_SUBJECTS.opportunity : BDT_SUBJECTS.error, e);
        await this.store.ack(raw);
        n++;
      }
      if (batch.length < 100) return n;
    }
  }

  /** An opportunity heard on NATS (from whichever replica published it): NOTIFY the users holding tagged messages. */
  async opportunityHeard(e: BdtOpportunityEvent): Promise<void> {
    for (const aor of await this.store.usersOf(e.bdtReferenceId)) this.mailboxChanged(aor);
  }

  /** Looks at once (an event was just queued), off the caller's path. */
  kick(): void {
    setImmediate(() => void this.tick().catch((e: Error) => this.onError(e)));
  }

  /** First tick now (what fell due while no replica ran), then every tickMs. */
  start(): void {
    this.kick();
    this.timer = setInterval(() => void this.tick().catch((e: Error) => this.onError(e)), this.opts.tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }
}
