/**
 * Returns expired reservations to the balance (ch2-contract.md "Reservations expire"). Every replica may run it:
 * the expire script checks and acts atomically, so a reservation is expired exactly once.
 */
import { RedisCreditLedger } from './redis-credit-ledger';

export class ReservationSweeper {
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;

  constructor(
    private readonly ledger: RedisCreditLedger,
    private readonly intervalMs: number,
    private readonly onExpired: (n: number) => void,
    private readonly onError: (e: Error) => void,
  ) {}

  start(): void {
    this.stopped = false;
    const loop = async () => {
      await this.sweep();
      if (!this.stopped) this.timer = setTimeout(loop, this.intervalMs);
    };
    this.timer = setTimeout(loop, this.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 10));
  }

  async sweep(now = Date.now()): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    let n = 0;
    try {
      for (let s = 0; s < this.ledger.keys.shards && !this.stopped; s++) n += await this.ledger.expireDue(s, now);
      if (n) this.onExpired(n);
    } catch (e) {
      this.onError(e as Error);
    } finally {
      this.running = false;
    }
    return n;
  }
}
