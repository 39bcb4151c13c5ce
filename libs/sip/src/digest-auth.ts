/**
 * Server-side HTTP Digest for SIP (RFC 3261 §22.4, RFC 2617 §3.2, RFC 8760 for SHA-256): challenges (one
 * WWW-Authenticate per algorithm, in the configured order — clients use the first they support), and verification
 * from stored HA1 values (the password is never stored). Nonces carry their issue time and an HMAC, so any server
 * replica can check them; they expire, and with `qop=auth` a nonce-count that does not increase is a replay.
 * Hash functions are injected (the core imports no crypto module).
 */
export type DigestAlgorithm = 'MD5' | 'SHA-256';

export interface DigestCrypto {
  hash(algorithm: DigestAlgorithm, text: string): string;
  hmac(key: string, text: string): string;
  random(bytes: number): string;
}

export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: DigestAlgorithm;
  qop?: string;
  nc?: string;
  cnonce?: string;
  opaque?: string;
}

export type DigestVerdict =
  | { ok: true; username: string }
  | { ok: false; reason: 'missing' | 'malformed' | 'realm' | 'stale' | 'bad-nonce' | 'replay' | 'unknown-user' | 'wrong-password'; stale?: boolean };

/** Parses `Digest k=v, k="v", …` (RFC 2617 §3.2.2). */
export function parseDigest(header: string): Record<string, string> | undefined {
  const m = /^\s*Digest\s+(.*)$/is.exec(header);
  if (!m) return undefined;
  const out: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*(?:,|$)/g;
  let x: RegExpExecArray | null;
  let consumed = 0;
  while ((x = re.exec(m[1]))) {
    out[x[1].toLowerCase()] = x[2] !== undefined ? x[2].replace(/\\(.)/g, '$1') : x[3];
    consumed = re.lastIndex;
  }
  if (consumed === 0) return undefined;
  return out;
}

export function ha1(c: DigestCrypto, algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return c.hash(algorithm, `${username}:${realm}:${password}`);
}

export interface DigestServerOptions {
  realm: string;
  algorithms: DigestAlgorithm[];
  secret: string;
  nonceTtlMs: number;
  crypto: DigestCrypto;
  now: () => number;
}

export class DigestServer {
  /** Highest nonce-count seen per nonce (replay protection, RFC 2617 §3.2.2 "nc"). */
  private readonly seen = new Map<string, number>();

  constructor(private readonly o: DigestServerOptions) {}

  newNonce(): string {
    const ts = this.o.now().toString(36);
    const salt = this.o.crypto.random(6);
    const mac = this.o.crypto.hmac(this.o.secret, `${ts}:${salt}`).slice(0, 24);
    return `${ts}.${salt}.${mac}`;
  }

  /**
   * WWW-Authenticate (or Proxy-Authenticate) values, one per algorithm in the configured order (RFC 8760 §2.4:
   * "in the order of preference"). Interop: clients that know one algorithm take the first challenge (SIPp), but
   * sip.js 0.21 keeps only the last WWW-Authenticate it parses, so with several algorithms the first is repeated
   * last — every client then answers the preferred algorithm it knows.
   */
  challenges(stale = false): string[] {
    const nonce = this.newNonce();
    const algs = this.o.algorithms.length > 1 ? [...this.o.algorithms, this.o.algorithms[0]] : this.o.algorithms;
    return algs.map((a) => `Digest realm="${this.o.realm}", nonce="${nonce}", algorithm=${a}, qop="auth"${stale ? ', stale=TRUE' : ''}`);
  }

  private nonceState(nonce: string): 'ok' | 'stale' | 'bad' {
    const [ts, salt, mac] = nonce.split('.');
    if (!ts || !salt || !mac) return 'bad';
    if (this.o.crypto.hmac(this.o.secret, `${ts}:${salt}`).slice(0, 24) !== mac) return 'bad';
    const issued = parseInt(ts, 36);
    if (!Number.isFinite(issued) || this.o.now() - issued > this.o.nonceTtlMs) return 'stale';
    return 'ok';
  }

  /**
   * Verifies an Authorization header for `method`. `lookupHa1(username, algorithm)` returns the stored HA1 or
   * undefined for an unknown user.
   */
  async verify(
    authorization: string | undefined,
    method: string,
    lookupHa1: (username: string, algorithm: DigestAlgorithm) => Promise<string | undefined>,
  ): Promise<DigestVerdict> {
    if (!authorization) return { ok: false, reason: 'missing' };
    const p = parseDigest(authorization);
    if (!p || !p.username || !p.nonce || !p.uri || !p.response) return { ok: false, reason: 'malformed' };
    const algorithm = (p.algorithm ?? 'MD5').toUpperCase() as DigestAlgorithm;
    if (!this.o.algorithms.includes(algorithm)) return { ok: false, reason: 'malformed' };
    if (p.realm !== this.o.realm) return { ok: false, reason: 'realm' };
    const state = this.nonceState(p.nonce);
    if (state === 'bad') return { ok: false, reason: 'bad-nonce' };
    if (state === 'stale') return { ok: false, reason: 'stale', stale: true };
    const h1 = await lookupHa1(p.username, algorithm);
    if (!h1) return { ok: false, reason: 'unknown-user' };
    const h2 = this.o.crypto.hash(algorithm, `${method}:${p.uri}`);
    let expected: string;
    if (p.qop) {
      if (p.qop !== 'auth' || !p.nc || !p.cnonce || !/^[0-9a-fA-F]{8}$/.test(p.nc)) return { ok: false, reason: 'malformed' };
      expected = this.o.crypto.hash(algorithm, `${h1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${h2}`);
    } else {
      expected = this.o.crypto.hash(algorithm, `${h1}:${p.nonce}:${h2}`);
    }
    if (expected !== p.response.toLowerCase()) return { ok: false, reason: 'wrong-password' };
    // replay protection: with qop the nonce-count must grow; without qop a nonce is good once
    const key = `${p.nonce}|${p.username}`;
    const nc = p.qop ? parseInt(p.nc!, 16) : 1;
    const last = this.seen.get(key) ?? 0;
    if (nc <= last) return { ok: false, reason: 'replay' };
    this.seen.set(key, nc);
    if (this.seen.size > 100000) this.prune();
    return { ok: true, username: p.username };
  }

  private prune(): void {
    for (const k of this.seen.keys()) {
      if (this.nonceState(k.split('|')[0]) !== 'ok') this.seen.delete(k);
    }
  }
}
