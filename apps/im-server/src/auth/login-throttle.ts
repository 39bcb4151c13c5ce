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
 * Only confirmed wrong guesses lock out. A check in flight holds a place (atomically, in the same script as the
 * verdict) while it runs: while one more would take wrong guesses + checks in flight past the limit, it *waits* —
 * inside the server, asking again as soon as a check of the same source ends on this replica (or every few ms, for
 * the other replicas' checks) for at most `maxWaitMs` — instead of being refused. So N parallel
 * wrong guesses still get at most `limit` tries (the rest wait, then find the window full and are refused), and an
 * honest burst from one address (a NAT, a load test: many clients authenticating at once) goes through a few at a
 * time, none refused. A check that waited `maxWaitMs` in vain is refused for a second (`inProgress`), not for the
 * window. A check whose replica dies frees its place after `CHECK_HOLD_MS`. Refused attempts do not extend a window.
 */
import { randomUUID } from 'node:crypto';
import type { LuaFn, RedisClient } from '@imc/runtime';
import { AuthKeys } from './auth-keys';
import { authScripts } from './auth-scripts';

export interface ThrottleLimits {
  sourceLimit: number;
  sourceWindowMs: number;
  accountLimit: number;
  accountWindowMs: number;
  /** How long a check may wait for the checks in flight before it (default `DEFAULT_MAX_WAIT_MS`). */
  maxWaitMs?: number;
}

/** How long a check in flight holds its place at most (a replica that died while checking never reports back). */
export const CHECK_HOLD_MS = 10_000;
/** How long a check waits at most for the checks in flight ahead of it before it is refused for a second. */
export const DEFAULT_MAX_WAIT_MS = 5_000;
/**
 * Checks that may wait at once on one replica for one source or one account; the next is refused for a second at
 * once. Each waiter asks Redis again every few ms: without a bound, a flood of requests from one source would be
 * held in memory and turned into that many Redis calls for `maxWaitMs`.
 */
export const MAX_WAITING_PER_KEY = 256;

/** How long a source that logged in to an account stays exempt from that account's lockout. */
export const KNOWN_SOURCE_MS = 30 * 86400 * 1000;

export type ThrottleScope = 'source' | 'account';

export interface AttemptTicket {
  source: string;
  aor?: string;
  /** The check's place among the checks in flight. */
  id: string;
}

export type ThrottleDecision =
  | { allowed: true; ticket: AttemptTicket }
  /** `inProgress`: not locked out, but too many checks stayed in flight for too long; retry in a second. */
  | { allowed: false; scope: ThrottleScope; retryAfterSeconds: number; inProgress?: true };

type Verdict = { go: true } | { go: false; scope: ThrottleScope; refusedForMs?: number };
const GO = 0;
const REFUSED = 1;

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
  private readonly maxWaitMs: number;
  /** Checks waiting on this replica, by what they wait for (`s:<source>`, `a:<aor>`), first come first woken. */
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(private readonly redis: RedisClient, private readonly keys: AuthKeys, private readonly limits: ThrottleLimits) {
    this.lua = authScripts(redis);
    this.maxWaitMs = limits.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  }

  /**
   * Lets a credential check from `address` for `aor` (undefined when the presented name is not a valid identity)
   * begin: at once, after the checks in flight ahead of it settle, or not at all (locked out, or waited in vain).
   * Every allowed check must end with `succeeded`, `failed` or `notAGuess`.
   */
  async begin(address: string, aor: string | undefined): Promise<ThrottleDecision> {
    const ticket: AttemptTicket = { source: sourceOf(address), aor, id: randomUUID() };
    const deadline = Date.now() + this.maxWaitMs;
    for (let attempt = 0; ; attempt++) {
      const v = await this.enter(ticket);
      if (v.go) return { allowed: true, ticket };
      if (v.refusedForMs !== undefined) return { allowed: false, scope: v.scope, retryAfterSeconds: Math.max(1, Math.ceil(v.refusedForMs / 1000)) };
      const key = v.scope === 'source' ? `s:${ticket.source}` : `a:${ticket.aor}`;
      if (Date.now() >= deadline || (this.waiting.get(key)?.length ?? 0) >= MAX_WAITING_PER_KEY)
        return { allowed: false, scope: v.scope, retryAfterSeconds: 1, inProgress: true };
      await this.pause(key, attempt);
    }
  }

  /**
   * Until a check of the same source (or account) ends on this replica — then the first waiter asks again at once —
   * or, for checks on other replicas, a few ms, later less often, spread so that waiters do not all ask at once.
   */
  private pause(key: string, attempt: number): Promise<void> {
    const ms = Math.min(100, 4 << Math.min(attempt, 5)) * (0.5 + Math.random() / 2);
    return new Promise<void>((resolve) => {
      const queue = this.waiting.get(key) ?? [];
      this.waiting.set(key, queue);
      const wake = () => {
        clearTimeout(timer);
        const i = queue.indexOf(wake);
        if (i >= 0) queue.splice(i, 1);
        if (!queue.length && this.waiting.get(key) === queue) this.waiting.delete(key);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      queue.push(wake);
    });
  }

  /**
   * A check ended here: the first check waiting for its source and for its account asks again, at once — its
   * check-enter goes on the same Redis connection after the command that frees the place, so Redis runs it after.
   */
  private ended(t: AttemptTicket): void {
    this.waiting.get(`s:${t.source}`)?.[0]?.();
    if (t.aor !== undefined) this.waiting.get(`a:${t.aor}`)?.[0]?.();
  }

  /** One try at taking a place among the checks in flight of the source, then of the account. */
  private async enter(t: AttemptTicket): Promise<Verdict> {
    const l = this.limits;
    // both at once (one round trip less while the place is held); a place taken in vain is given back
    const [[src, srcLeft], acctVerdict] = (await Promise.all([
      this.lua['check-enter'](this.keys.sourceFailures(t.source), this.keys.sourceChecks(t.source), l.sourceLimit, t.id, CHECK_HOLD_MS),
      t.aor === undefined
        ? undefined
        : this.lua['check-enter-known'](this.keys.accountFailures(t.aor), this.keys.accountChecks(t.aor), this.keys.knownSource(t.aor, t.source), l.accountLimit, t.id, CHECK_HOLD_MS),
    ])) as [[number, number], [number, number] | undefined];
    const [acct, acctLeft] = acctVerdict ?? [GO, 0];
    if (src === GO && acct === GO) return { go: true };
    // not checked, so not a guess: the place taken on the other side is given back
    if (src === GO) await this.redis.zrem(this.keys.sourceChecks(t.source), t.id);
    if (acct === GO && t.aor !== undefined) await this.redis.zrem(this.keys.accountChecks(t.aor), t.id);
    if (src !== GO) return { go: false, scope: 'source', refusedForMs: src === REFUSED ? srcLeft : undefined };
    return { go: false, scope: 'account', refusedForMs: acct === REFUSED ? acctLeft : undefined };
  }

  /** The credentials were right: the check leaves and the source becomes known to the account. */
  async succeeded(t: AttemptTicket): Promise<void> {
    await Promise.all([
      this.notAGuess(t),
      t.aor !== undefined ? this.redis.set(this.keys.knownSource(t.aor, t.source), '1', 'PX', KNOWN_SOURCE_MS) : undefined,
    ]);
  }

  /** A wrong guess (wrong password, unknown user, a name no client sends): counted for the source and the account. */
  async failed(t: AttemptTicket): Promise<void> {
    const l = this.limits;
    const done = Promise.all([
      this.lua['check-failed'](this.keys.sourceFailures(t.source), this.keys.sourceChecks(t.source), t.id, l.sourceWindowMs),
      t.aor !== undefined ? this.lua['check-failed'](this.keys.accountFailures(t.aor), this.keys.accountChecks(t.aor), t.id, l.accountWindowMs) : undefined,
    ]);
    this.ended(t);
    await done;
  }

  /** The check was not a wrong guess (a bad request, a stale nonce with the right digest, a replay): it just leaves. */
  async notAGuess(t: AttemptTicket): Promise<void> {
    const done = Promise.all([
      this.redis.zrem(this.keys.sourceChecks(t.source), t.id),
      t.aor !== undefined ? this.redis.zrem(this.keys.accountChecks(t.aor), t.id) : undefined,
    ]);
    this.ended(t);
    await done;
  }
}
