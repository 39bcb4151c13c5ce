/**
 * Throttling of password guessing, shared by every replica through Redis: SIP digest and HTTP Basic checks count
 * against a window per source and a window per account.
 *
 * - Per source (an IPv4 address, or the /64 of an IPv6 one, which one host can fill): strict — `sourceLimit` wrong
 *   guesses per `sourceWindowMs`, then that source is refused until its window ends.
 * - Per account: looser and short — `accountLimit` wrong guesses per `accountWindowMs` from all sources together
 *   (a botnet), then the account refuses checks, except from sources that logged in to it before (remembered 30
 *   days). An attacker can therefore lock the real user out of a *new* device for at most one account window, and
 *   out of a device they used before not at all.
 *
 * A check is counted before it runs (atomically, so 200 parallel guesses get `limit` tries, not 200) and given
 * back when it was not a wrong guess (`succeeded`, `notAGuess`). Refused attempts do not extend a window.
 */
import type { LuaFn, RedisClient } from '@imc/runtime';
import { AuthKeys } from './auth-keys';
import { authScripts } from './auth-scripts';

export interface ThrottleLimits {
  sourceLimit: number;
  sourceWindowMs: number;
  accountLimit: number;
  accountWindowMs: number;
}

/** How long a source that logged in to an account stays exempt from that account's lockout. */
export const KNOWN_SOURCE_MS = 30 * 86400 * 1000;

export type ThrottleScope = 'source' | 'account';

export interface AttemptTicket {
  source: string;
  aor?: string;
}

export type ThrottleDecision =
  | { allowed: true; ticket: AttemptTicket }
  | { allowed: false; scope: ThrottleScope; retryAfterSeconds: number };

/** The throttling key of an address: IPv4 (also IPv4-mapped IPv6) as is, IPv6 by its /64. */
export function sourceOf(address: string): string {
  const a = address.trim().toLowerCase().replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1];
  if (!a.includes(':')) return a || 'unknown';
  const [head, tail = ''] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = a.includes('::') && tail ? tail.split(':') : [];
  const groups = a.includes('::') ? [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(':')}::/64`;
}

export class LoginThrottle {
  private readonly lua: Record<string, LuaFn>;

  constructor(private readonly redis: RedisClient, private readonly keys: AuthKeys, private readonly limits: ThrottleLimits) {
    this.lua = authScripts(redis);
  }

  /** Counts a credential check from `address` for `aor` (undefined when the presented name is not a valid identity). */
  async begin(address: string, aor: string | undefined): Promise<ThrottleDecision> {
    const source = sourceOf(address);
    const l = this.limits;
    const [srcBlocked, srcLeft] = (await this.lua['window-hit'](this.keys.sourceFailures(source), l.sourceLimit, l.sourceWindowMs)) as [number, number];
    if (srcBlocked) return { allowed: false, scope: 'source', retryAfterSeconds: Math.max(1, Math.ceil(srcLeft / 1000)) };
    if (aor !== undefined) {
      const [acctBlocked, acctLeft] = (await this.lua['window-hit-unless-known'](
        this.keys.accountFailures(aor),
        this.keys.knownSource(aor, source),
        l.accountLimit,
        l.accountWindowMs,
      )) as [number, number];
      if (acctBlocked) {
        // refused without a check, so not a guess: the source is not charged for it
        await this.lua['window-release'](this.keys.sourceFailures(source));
        return { allowed: false, scope: 'account', retryAfterSeconds: Math.max(1, Math.ceil(acctLeft / 1000)) };
      }
    }
    return { allowed: true, ticket: { source, aor } };
  }

  /** The credentials were right: the attempt is given back and the source becomes known to the account. */
  async succeeded(t: AttemptTicket): Promise<void> {
    await Promise.all([
      this.notAGuess(t),
      t.aor !== undefined ? this.redis.set(this.keys.knownSource(t.aor, t.source), '1', 'PX', KNOWN_SOURCE_MS) : undefined,
    ]);
  }

  /** The check was not a wrong guess (a bad request, a stale nonce with the right digest, a replay): given back. */
  async notAGuess(t: AttemptTicket): Promise<void> {
    await Promise.all([
      this.lua['window-release'](this.keys.sourceFailures(t.source)),
      t.aor !== undefined ? this.lua['window-release'](this.keys.accountFailures(t.aor)) : undefined,
    ]);
  }
}
