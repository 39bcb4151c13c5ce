/**
 * Every Redis key of authentication, built in one place (STYLE.md "Redis key builders are defined once"). Keys one
 * script touches share a hash tag: a nonce's count is tagged by the nonce, an account's failure counter and its
 * known sources by the account, a source's counter by the source — so each script runs in one Redis Cluster slot.
 */
export class AuthKeys {
  constructor(private readonly prefix: string) {}

  /** Highest digest nonce-count seen for (nonce, username). Both are bounded: the nonce passed its HMAC check and the username is a known user. */
  nonceCount(nonce: string, username: string): string {
    return `${this.prefix}auth:nc:{${nonce}}:${username}`;
  }
  /** Confirmed wrong guesses of a source (an IPv4 address or an IPv6 /64) in the current window. */
  sourceFailures(source: string): string {
    return `${this.prefix}auth:fail:src:{${source}}`;
  }
  /** A source's credential checks in flight (sorted set: ticket → deadline), beside its wrong guesses. */
  sourceChecks(source: string): string {
    return `${this.prefix}auth:checks:src:{${source}}`;
  }
  /** Confirmed wrong guesses for an account (a validated AOR) in the current window. */
  accountFailures(aor: string): string {
    return `${this.prefix}auth:fail:acct:{${aor}}`;
  }
  /** An account's credential checks in flight, from all sources. */
  accountChecks(aor: string): string {
    return `${this.prefix}auth:checks:acct:{${aor}}`;
  }
  /** Set when `source` logged in to `aor`: the account's lockout does not apply to it. */
  knownSource(aor: string, source: string): string {
    return `${this.prefix}auth:known:{${aor}}:${source}`;
  }
}
