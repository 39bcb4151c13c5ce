import { randomBytes } from 'node:crypto';
import { createRedis, type RedisClient } from '@imc/runtime';
import { AuthKeys } from './auth-keys';
import { MAX_WAITING_PER_KEY, LoginThrottle, sourceOf } from './login-throttle';

describe('the throttling key of a source address', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:DB8:0001:0002:0:0:0:1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['[2001:db8:1:2::1]', '2001:db8:1:2::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['', 'unknown'],
  ])('%s → %s (an IPv6 host owns a whole /64, so it is counted as one)', (address, key) => {
    expect(sourceOf(address)).toBe(key);
  });
});

/**
 * The throttle on the real Redis (the suite's REDIS_URL, a key prefix of its own): only confirmed wrong guesses lock
 * out; checks in flight only make the next ones wait.
 */
describe('the login throttle on Redis', () => {
  const prefix = `t${randomBytes(4).toString('hex')}:`;
  const keys = new AuthKeys(prefix);
  let redis: RedisClient;
  const limits = { sourceLimit: 10, sourceWindowMs: 900_000, accountLimit: 30, accountWindowMs: 300_000, maxWaitMs: 5000 };
  beforeAll(() => {
    redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  });
  afterAll(async () => {
    const left = await redis.keys(`${prefix}*`);
    if (left.length) await redis.del(...left);
    await redis.quit();
  });

  it('200 parallel right logins from one address all go ahead, never more than the limit at once', async () => {
    const throttle = new LoginThrottle(redis, keys, limits);
    let inFlight = 0;
    let most = 0;
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const d = await throttle.begin('198.51.100.7', `sip:nat${i}@example.com`);
        if (!d.allowed) return d;
        most = Math.max(most, ++inFlight);
        // the check itself (a Redis read of the HA1): a round trip
        await redis.ping();
        inFlight--;
        await throttle.succeeded(d.ticket);
        return d;
      }),
    );
    expect(outcomes.filter((d) => !d.allowed)).toEqual([]);
    expect(most).toBeLessThanOrEqual(limits.sourceLimit);
    expect(await redis.zcard(keys.sourceChecks('198.51.100.7'))).toBe(0);
  });

  it('30 parallel wrong guesses get 10 checks; the other 20 wait for them, then are refused for the window', async () => {
    const throttle = new LoginThrottle(redis, keys, limits);
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, async () => {
        const d = await throttle.begin('198.51.100.8', 'sip:victim@example.com');
        if (d.allowed) await throttle.failed(d.ticket);
        return d;
      }),
    );
    expect(outcomes.filter((d) => d.allowed)).toHaveLength(10);
    const refused = outcomes.filter((d) => !d.allowed);
    expect(refused).toHaveLength(20);
    for (const r of refused) expect(r).toMatchObject({ allowed: false, scope: 'source', retryAfterSeconds: expect.any(Number) });
    expect(Math.min(...refused.map((r) => (r.allowed ? 0 : r.retryAfterSeconds)))).toBeGreaterThan(800);
    expect(await throttle.begin('198.51.100.8', 'sip:victim@example.com')).toMatchObject({ allowed: false, scope: 'source' });
  });

  it('a check that waits longer than maxWaitMs for the checks in flight is refused for a second, not for the window', async () => {
    const throttle = new LoginThrottle(redis, keys, { ...limits, sourceLimit: 1, maxWaitMs: 50 });
    const first = await throttle.begin('198.51.100.9', undefined);
    expect(first.allowed).toBe(true);
    expect(await throttle.begin('198.51.100.9', undefined)).toEqual({ allowed: false, scope: 'source', retryAfterSeconds: 1, inProgress: true });
    if (first.allowed) await throttle.notAGuess(first.ticket);
    expect((await throttle.begin('198.51.100.9', undefined)).allowed).toBe(true);
  });

  it('at most MAX_WAITING_PER_KEY checks of one source wait at once; the rest are refused for a second at once', async () => {
    const throttle = new LoginThrottle(redis, keys, { ...limits, sourceLimit: 1, maxWaitMs: 60_000 });
    const first = await throttle.begin('198.51.100.10', undefined);
    expect(first.allowed).toBe(true);
    const extra = 40;
    const waiting = Array.from({ length: MAX_WAITING_PER_KEY + extra }, () => throttle.begin('198.51.100.10', undefined));
    // the ones over the bound are answered while the first check is still in flight
    const refusedAtOnce: unknown[] = [];
    await new Promise<void>((allRefused) =>
      waiting.forEach((w) =>
        void w.then((d) => {
          if (!d.allowed && refusedAtOnce.push(d) === extra) allRefused();
        }),
      ),
    );
    expect(refusedAtOnce).toHaveLength(extra);
    expect(refusedAtOnce[0]).toEqual({ allowed: false, scope: 'source', retryAfterSeconds: 1, inProgress: true });
    // the waiters then go one by one, each as the check before it ends
    if (first.allowed) await throttle.notAGuess(first.ticket);
    const allowed = await Promise.all(
      waiting.map((w) =>
        w.then(async (d) => {
          if (d.allowed) await throttle.notAGuess(d.ticket);
          return d.allowed;
        }),
      ),
    );
    expect(allowed.filter(Boolean)).toHaveLength(MAX_WAITING_PER_KEY);
  }, 60_000);
});
