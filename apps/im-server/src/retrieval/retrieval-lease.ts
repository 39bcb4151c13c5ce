/**
 * One retrieval per user at a time (retrieval-flow.md "Retrieval", the lease row): a second one would reserve and
 * deliver the same messages again. The lease outlives a reservation's validity and is refreshed every third of its
 * life, on the SIP front's clock, while the session holds it.
 */
import type { Clock, TimerHandle } from '@imc/sip';
import type { RetrievalStore } from './retrieval-ports';

export class RetrievalLease {
  private held = false;
  private refresh?: TimerHandle;

  constructor(
    private readonly store: RetrievalStore,
    private readonly clock: Clock,
    private readonly aor: string,
    private readonly owner: string,
    private readonly ttlMs: number,
    private readonly log: (m: string) => void,
  ) {}

  /** False when another retrieval of this user holds it. */
  async take(): Promise<boolean> {
    return this.store.lockRetrieval(this.aor, this.owner, this.ttlMs);
  }

  /** The lease was taken; keep it alive until `drop`. */
  hold(): void {
    this.held = true;
    this.schedule();
  }

  private schedule(): void {
    this.refresh = this.clock.setTimer(this.ttlMs / 3, () => {
      if (!this.held) return;
      void this.store
        .refreshRetrievalLock(this.aor, this.owner, this.ttlMs)
        .then((held) => held || this.log(`retrieval ${this.owner} for ${this.aor}: the retrieval lease was lost (Redis failover?)`))
        .catch(() => undefined);
      this.schedule();
    });
  }

  /** Stops refreshing (the session is ending); the lease itself is dropped by `drop`. */
  stop(): void {
    this.refresh?.cancel();
  }

  /** Gives the lease back: taken and never held (ended while it was being taken), or held. */
  async drop(taken = this.held): Promise<void> {
    this.stop();
    this.held = false;
    if (taken) await this.store.unlockRetrieval(this.aor, this.owner);
  }
}
