/**
 * Pieces both services share: Nest log levels from LOG_LEVEL, the settings every service reads alike, and the bearer-token
 * guard of the admin HTTP APIs (operations.md "Admin HTTP": health and metrics stay open).
 */
import { CanActivate, ExecutionContext, LogLevel as NestLogLevel, UnauthorizedException } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import { ConfigError, EnvReader } from './env-reader';
import { natsConnectionOptions, NatsConnectionOptions, redisConnection, RedisConnection } from './connection-options';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'verbose', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const NEST_LOG_LEVELS: Record<LogLevel, NestLogLevel[]> = {
  fatal: ['fatal'],
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  info: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  verbose: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
  silent: [],
};

/** Checks `Authorization: Bearer <token>` in constant time; without a configured token everything passes (development). */
export class BearerTokenGuard implements CanActivate {
  private readonly expected?: Buffer;

  constructor(token: string | undefined) {
    this.expected = token ? Buffer.from(token) : undefined;
  }

  canActivate(ctx: ExecutionContext): boolean {
    if (!this.expected) return true;
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    const got = m ? Buffer.from(m[1].trim()) : undefined;
    if (!got || got.length !== this.expected.length || !timingSafeEqual(got, this.expected))
      throw new UnauthorizedException('a valid bearer token is required (Authorization: Bearer <ADMIN_TOKEN>)');
    return true;
  }
}

/** Readiness probes that tell the truth: Redis answers PING now; NATS is connected (tracked from its status feed). */
export function readinessProbes(redis: { ping(): Promise<string> }, nc: { isClosed(): boolean; status(): AsyncIterable<{ type: string }> }) {
  let natsUp = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') natsUp = false;
      else if (s.type === 'reconnect') natsUp = true;
    }
  })();
  return {
    redis: async (): Promise<boolean> => {
      try {
        return (await redis.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    nats: (): boolean => !nc.isClosed() && natsUp,
  };
}

/** The settings every service reads the same way (operations.md "Environment"). */
export interface ServiceEnv {
  /** NATS_URL as given (may hold credentials: log it only through redactUrl). */
  natsUrl: string;
  /** REDIS_URL as given (may hold credentials: log it only through redactUrl). */
  redisUrl: string;
  /** Spread into every nats.js connect(): the servers of NATS_URL, user/pass from NATS_USER / NATS_PASSWORD or the URL. */
  nats: NatsConnectionOptions;
  /** Given to createRedis: REDIS_URL without credentials, REDIS_USERNAME / REDIS_PASSWORD or the URL's. */
  redis: RedisConnection;
  /** Prefix of every NATS subject (isolates several stacks on one NATS). */
  subjectPrefix: string;
  /** Prefix of every Redis key. */
  keyPrefix: string;
  httpHost: string;
  adminToken?: string;
  development: boolean;
  logLevel: LogLevel;
}

export function readServiceEnv(r: EnvReader): ServiceEnv {
  const nodeEnv = r.str('NODE_ENV', 'production');
  const development = nodeEnv === 'development' || nodeEnv === 'test';
  const adminToken = r.str('ADMIN_TOKEN');
  if (!adminToken && !development)
    throw new ConfigError('ADMIN_TOKEN', 'is required outside development (set NODE_ENV=development to run without one)');
  const natsUrl = r.urls('NATS_URL', ['nats', 'tls'], 'nats://127.0.0.1:4222');
  const redisUrl = r.urls('REDIS_URL', ['redis', 'rediss'], 'redis://127.0.0.1:6379');
  return {
    natsUrl,
    redisUrl,
    nats: natsConnectionOptions(natsUrl, { user: r.str('NATS_USER'), password: r.secret('NATS_PASSWORD') }),
    redis: redisConnection(redisUrl, { user: r.str('REDIS_USERNAME'), password: r.secret('REDIS_PASSWORD') }),
    subjectPrefix: r.verbatim('NATS_SUBJECT_PREFIX', '', /^([A-Za-z0-9_-]+\.)*$/),
    keyPrefix: r.verbatim('REDIS_KEY_PREFIX', 'imc:', /^[^\s{}]*$/),
    httpHost: r.str('HTTP_HOST', '0.0.0.0'),
    adminToken,
    development,
    logLevel: r.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
  };
}
