/**
 * Randomness for the MSRP core, injected like the clock: node:crypto in the im-server and the CLI,
 * crypto.getRandomValues in the browser, a deterministic source in tests.
 *
 * RFC 4975 §14.1: the session-id of an MSRP URI is what ties a connection to a session, so it must be hard to guess
 * — the RFC asks for at least 80 bits of randomness. Transaction ids (§7.1: "… MUST be unique …", 4–32 characters)
 * and Message-IDs are random too, so no identifier a peer sees tells it anything about another session.
 */
export interface MsrpRandom {
  /** `n` bytes from a cryptographically secure generator. */
  bytes(n: number): Uint8Array;
}

/** Letters and digits: valid in a session-id (§9 `session-id`), a transact-id (`ident`) and a Message-ID. */
export const MSRP_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** Random bits of the session-ids this library makes (§14.1 asks for at least 80). */
export const SESSION_ID_BITS = 128;
/** Random bits of a transaction id (10 characters; `ident` allows 4–32). */
export const TID_BITS = 59;
/** Random bits of a Message-ID this library makes. */
export const MESSAGE_ID_BITS = 80;

/**
 * A string of at least `bits` random bits over letters and digits; each character by rejection sampling (bytes at or
 * above 248 = 4·62 are dropped), so every character is uniform.
 */
export function randomId(random: MsrpRandom, bits: number): string {
  const a = MSRP_ID_ALPHABET;
  const chars = Math.ceil(bits / Math.log2(a.length));
  const limit = 256 - (256 % a.length);
  let out = '';
  while (out.length < chars) {
    for (const b of random.bytes(chars - out.length + 8)) {
      if (b >= limit) continue;
      out += a[b % a.length];
      if (out.length === chars) break;
    }
  }
  return out;
}

/** A fresh MSRP session-id (§14.1): 128 random bits, 22 letters and digits. */
export function newSessionId(random: MsrpRandom): string {
  return randomId(random, SESSION_ID_BITS);
}
