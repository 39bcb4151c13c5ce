/**
 * At most one line per key per interval, with the number of lines held back since the last one: an outage that
 * fails every request (a Redis failover, a NATS restart) leaves a readable trace instead of one line per request.
 * Keys are a small fixed set chosen by the caller (an operation name), so the map stays bounded.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly write: (line: string) => void,
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  log(key: string, line: string): void {
    const t = this.now();
    const prev = this.last.get(key);
    if (prev && t - prev.at < this.intervalMs) {
      prev.held++;
      return;
    }
    this.last.set(key, { at: t, held: 0 });
    this.write(prev?.held ? `${line} (and ${prev.held} more like it in the last ${Math.round((t - prev.at) / 1000)} s)` : line);
  }
}
