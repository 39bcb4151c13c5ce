import { randomBytes } from 'node:crypto';
import type { MsrpRandom } from '@imc/msrp';

/**
 * node:crypto's CSPRNG as the random source of the protocol cores. The same object satisfies libs/sip's
 * `RandomSource` (one member, `bytes(n)`), so the im-server and the CLI inject it into both.
 */
export const nodeRandom: MsrpRandom = {
  bytes: (n) => {
    const b = randomBytes(n);
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  },
};
