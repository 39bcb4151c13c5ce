/**
 * Group commit per key: the first item of a key is flushed at once, alone; items that arrive for the key while its
 * flush is in flight wait and go out together in the next one (at most `max` per flush). No timer: a lone item is
 * never delayed, and under load each flush carries what accumulated during the previous round trip.
 *
 * `flush` settles every item of its batch (one result per item, in order); a flush that throws rejects each of its
 * items with that error. Items of one key are flushed in the order they came; keys are independent.
 */
export class GroupCommit<I, R> {
  private readonly lanes = new Map<string, { items: I[]; waiters: { resolve(r: R): void; reject(e: unknown): void }[] }>();

  constructor(
    private readonly flush: (key: string, items: I[]) => Promise<R[]>,
    private readonly max = 32,
  ) {}

  /** Keys with a flush in flight (for tests). */
  get busy(): number {
    return this.lanes.size;
  }

  submit(key: string, item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const lane = this.lanes.get(key);
      if (lane) {
        lane.items.push(item);
        lane.waiters.push({ resolve, reject });
        return;
      }
      const fresh = { items: [item], waiters: [{ resolve, reject }] };
      this.lanes.set(key, fresh);
      void this.pump(key, fresh);
    });
  }

  private async pump(key: string, lane: { items: I[]; waiters: { resolve(r: R): void; reject(e: unknown): void }[] }): Promise<void> {
    while (lane.items.length) {
      const items = lane.items.splice(0, this.max);
      const waiters = lane.waiters.splice(0, items.length);
      try {
        const out = await this.flush(key, items);
        for (let i = 0; i < waiters.length; i++) waiters[i].resolve(out[i]);
      } catch (e) {
        for (const w of waiters) w.reject(e);
      }
    }
    this.lanes.delete(key);
  }
}
