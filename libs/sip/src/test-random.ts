/** Test-only random sources (not exported from the package: production code never sees them). */
import type { RandomSource } from './random';

/**
 * A deterministic source for tests (xorshift32 from a seed): the same seed gives the same identifiers, which proves
 * they were drawn from the injected source. Never for production.
 */
export class SeededRandom implements RandomSource {
  private s: number;
  /** Bytes handed out so far. */
  drawn = 0;

  constructor(seed = 1) {
    this.s = seed >>> 0 || 1;
  }

  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      this.s ^= this.s << 13;
      this.s >>>= 0;
      this.s ^= this.s >>> 17;
      this.s ^= this.s << 5;
      this.s >>>= 0;
      b[i] = this.s & 0xff;
    }
    this.drawn += n;
    return b;
  }
}
