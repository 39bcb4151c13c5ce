import type { MsrpRandom } from './random';

/**
 * A deterministic source for tests: byte i of the stream is `(seed + i) mod 256`, so the identifiers a session draws
 * are known in advance — which proves they came from the injected source. Never for production.
 */
export class CountingRandom implements MsrpRandom {
  drawn = 0;

  constructor(private readonly seed = 0) {}

  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (this.seed + this.drawn + i) % 256;
    this.drawn += n;
    return b;
  }
}
