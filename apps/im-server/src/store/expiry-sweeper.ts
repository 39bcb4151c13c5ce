/**
 * Runs the expiry sweep (DeferredStore.sweepExpired) every `intervalMs`, one sweep at a time: the next is scheduled
 * when the previous ends, so a slow sweep is never overlapped by the next. Before its first sweep it indexes the
 * mailboxes stored by a version without the expiry index (ExpiryIndex.migrate, once per Redis: a marker key says it
 * was done), retried at each round until it succeeds.
 */
import type { DeferredStore, ExpiredNotice } from './deferred-store';

export type SweptStore = Pick<DeferredStore, 'sweepExpired' | 'expiryIndex'>;

export interface SweeperLog {
  log(message: string): void;
  warn(message: string): void;
}

export class ExpirySweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private migration?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly store: SweptStore,
    private readonly onExpired: (n: ExpiredNotice) => Promise<void>,
    private readonly intervalMs: number,
    private readonly logger: SweeperLog,
  ) {}

  start(): void {
    this.migration = this.migrate();
    this.schedule(0);
  }

  /** Stops scheduling and waits for a sweep under way to end (and the migration to notice it). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.all([this.running, this.migration]);
  }

  private async migrate(): Promise<void> {
    while (!this.stopped) {
      try {
        const n = await this.store.expiryIndex.migrate(() => this.stopped);
        if (n) this.logger.log(`expiry index: ${n} mailboxes stored before the index were indexed`);
        return;
      } catch (e) {
        this.logger.warn(`expiry index migration: ${(e as Error).message}; will retry`);
        await new Promise<void>((r) => setTimeout(r, this.intervalMs).unref());
      }
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.round().finally(() => {
        this.running = undefined;
        this.schedule(this.intervalMs);
      });
    }, delayMs);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    try {
      await this.store.sweepExpired(this.onExpired);
    } catch (e) {
      this.logger.warn(`expiry sweep: ${(e as Error).message}; will retry`);
    }
  }
}
