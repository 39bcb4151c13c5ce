/**
 * Server-side HTTP Digest for SIP (RFC 3261 §22.4, RFC 2617 §3.2, RFC 8760 for SHA-256): challenges (one
 * WWW-Authenticate per algorithm, in the configured order — clients use the first they support), and verification
 * from stored HA1 values (the password is never stored).
 *
 * Replays. A nonce is `<issue time>.<salt>.<HMAC(secret, time:salt)>`: any replica holding the shared secret can
 * check it, and it survives restarts. What a nonce cannot say by itself is whether its nonce-count was already
 * used, so the highest nc per (nonce, username) lives behind the `NonceCounts` port — shared (Redis) in the
 * im-server, so a captured Authorization replayed to another replica, or after a restart, is refused. The record
 * outlives the nonce; a nonce past its lifetime is refused as stale whatever its count.
 * Hash functions are injected (the core imports no crypto module).
 */
import { parseUri, SipUri } from './uri';

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
  | { ok: false; reason: DigestFailure; stale?: boolean; username?: string };

export type DigestFailure = 'missing' | 'malformed' | 'realm' | 'uri-mismatch' | 'stale' | 'bad-nonce' | 'replay' | 'unknown-user' | 'wrong-password';

/**
 * Where the highest nonce-count seen per (nonce, username) is kept (RFC 2617 §3.2.2 "nc": "if the same nc-value is
 * seen twice, then the request is a replay"). `advance` records `nc` and answers true only when it is greater than
 * every count recorded before for that pair — atomically, since two replicas may see the same request at once.
 * The record must live at least `ttlMs`.
 */
export interface NonceCounts {
  advance(nonce: string, username: string, nc: number, ttlMs: number): Promise<boolean>;
}

/** `NonceCounts` of one process (unit tests, tools): forgotten at restart, so not for a server. Bounded by TTL. */
export class MemoryNonceCounts implements NonceCounts {
  private readonly seen = new Map<string, { nc: number; until: number }>();

  constructor(private readonly now: () => number, private readonly maxEntries = 100_000) {}

  async advance(nonce: string, username: string, nc: number, ttlMs: number): Promise<boolean> {
    const key = `${nonce}|${username}`;
    const now = this.now();
    const last = this.seen.get(key);
    if (last && last.until > now && nc <= last.nc) return false;
    this.seen.set(key, { nc, until: now + ttlMs });
    if (this.seen.size > this.maxEntries) for (const [k, v] of this.seen) if (v.until <= now) this.seen.delete(k);
    return true;
  }
}

/**
 * Does the digest `uri` designate the resource of the Request-URI? RFC 2617 §3.2.2.5: "The authenticating server
 * must assure that the resource designated by the "uri" directive is the same as the resource specified in the
 * Request-Line; if they are not, the server SHOULD return a 400 Bad Request error." RFC 3261 §22.4 keeps that rule
 * for SIP. Byte equality is what nearly every client produces (SIPp, sip.js and our CLI copy the Request-URI);
 * when the texts differ the two are compared as URIs by RFC 3261 §19.1.4 ("Comparison of the userinfo of SIP and
 * SIPS URIs is case-sensitive … Comparison of all other components of the URI is case-insensitive"; "A URI
 * omitting any component with a default value will not match a URI explicitly containing that component"; user,
 * ttl, method, maddr and transport parameters "must match" when present in either; "URI header components are never
 * ignored") — equivalent URIs name the same resource, so this is as strict as the RFC asks and no stricter.
 */
export function digestUriMatches(digestUri: string, requestUri: string): boolean {
  if (digestUri === requestUri) return true;
  const a = parseUri(digestUri);
  const b = parseUri(requestUri);
  if (!a || !b || a.scheme === 'tel' || b.scheme === 'tel') return false;
  return sameSipUri(a, b);
}

const MUST_MATCH_PARAMS = ['user', 'ttl', 'method', 'maddr', 'transport'];

function sameSipUri(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme || a.user !== b.user || a.host !== b.host || a.port !== b.port) return false;
  const lower = (v: string | null | undefined) => (v === undefined ? undefined : v === null ? null : v.toLowerCase());
  for (const p of MUST_MATCH_PARAMS) if (lower(a.params[p]) !== lower(b.params[p])) return false;
  for (const p of Object.keys(a.params)) if (p in b.params && lower(a.params[p]) !== lower(b.params[p])) return false;
  const headers = (h?: string) => (h ?? '').split('&').filter(Boolean).sort().join('&').toLowerCase();
  return headers(a.headers) === headers(b.headers);
}

/** Compares two hex digests without stopping at the first difference. */
function sameDigest(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

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
  /** Highest nonce-count per nonce; shared by every replica in a server (see the header). */
  nonceCounts: NonceCounts;
  /** How much longer than the nonce lifetime a nonce-count record is kept (clock skew between replicas). */
  nonceCountSlackMs?: number;
}

export class DigestServer {
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
    if (!sameDigest(this.o.crypto.hmac(this.o.secret, `${ts}:${salt}`).slice(0, 24), mac)) return 'bad';
    const issued = parseInt(ts, 36);
    if (!Number.isFinite(issued) || this.o.now() - issued > this.o.nonceTtlMs) return 'stale';
    return 'ok';
  }

  /**
   * Verifies an Authorization header for a request (`method`, Request-URI). `lookupHa1(username, algorithm)` returns
   * the stored HA1 or undefined for an unknown user. The order matters: the `uri` is checked first (a mismatch is a
   * bad request, whoever sends it); `stale` is only answered to a digest that was right for the expired nonce — RFC
   * 2617 §3.2.1: "The server should only set stale to TRUE if it receives a request for which the nonce is invalid
   * but with a valid digest for that nonce (indicating that the client knows the correct username/password)"; and
   * the nonce-count is recorded only for a right digest, so wrong guesses cannot burn a legitimate client's counts.
   */
  async verify(
    authorization: string | undefined,
    request: { method: string; uri: string },
    lookupHa1: (username: string, algorithm: DigestAlgorithm) => Promise<string | undefined>,
  ): Promise<DigestVerdict> {
    if (!authorization) return { ok: false, reason: 'missing' };
    const p = parseDigest(authorization);
    if (!p || !p.username || !p.nonce || !p.uri || !p.response) return { ok: false, reason: 'malformed' };
    const username = p.username;
    const algorithm = (p.algorithm ?? 'MD5').toUpperCase() as DigestAlgorithm;
    if (!this.o.algorithms.includes(algorithm)) return { ok: false, reason: 'malformed', username };
    if (p.realm !== this.o.realm) return { ok: false, reason: 'realm', username };
    if (!digestUriMatches(p.uri, request.uri)) return { ok: false, reason: 'uri-mismatch', username };
    const state = this.nonceState(p.nonce);
    if (state === 'bad') return { ok: false, reason: 'bad-nonce', username };
    const h1 = await lookupHa1(username, algorithm);
    if (!h1) return { ok: false, reason: 'unknown-user', username };
    const h2 = this.o.crypto.hash(algorithm, `${request.method}:${p.uri}`);
    let expected: string;
    if (p.qop) {
      if (p.qop !== 'auth' || !p.nc || !p.cnonce || !/^[0-9a-fA-F]{8}$/.test(p.nc)) return { ok: false, reason: 'malformed', username };
      expected = this.o.crypto.hash(algorithm, `${h1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${h2}`);
    } else {
      expected = this.o.crypto.hash(algorithm, `${h1}:${p.nonce}:${h2}`);
    }
    if (!sameDigest(expected, p.response.toLowerCase())) return { ok: false, reason: 'wrong-password', username };
    if (state === 'stale') return { ok: false, reason: 'stale', stale: true, username };
    // replay protection: with qop the nonce-count must grow; without qop (RFC 2069 clients) a nonce is good once
    const nc = p.qop ? parseInt(p.nc!, 16) : 1;
    if (!(await this.o.nonceCounts.advance(p.nonce, username, nc, this.o.nonceTtlMs + (this.o.nonceCountSlackMs ?? 60_000))))
      return { ok: false, reason: 'replay', username };
    return { ok: true, username };
  }
}
