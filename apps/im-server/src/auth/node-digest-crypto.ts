/** The digest core's crypto port (`DigestCrypto` of `libs/sip/src/digest-auth.ts`) on node:crypto: the SIP digest check and the admin API's HA1s. */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { DigestCrypto } from '@imc/sip';

export const nodeDigestCrypto: DigestCrypto = {
  hash: (a, t) => createHash(a === 'MD5' ? 'md5' : 'sha256').update(t).digest('hex'),
  hmac: (k, t) => createHmac('sha256', k).update(t).digest('hex'),
  random: (n) => randomBytes(n).toString('hex'),
};
