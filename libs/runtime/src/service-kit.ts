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

/** What `/health/ready` reports beside up/down: which Redis and NATS nodes this process sees, and their state. */
export interface Topology {
  redis: { mode: 'single' | 'cluster'; state?: string; nodes?: { node: string; role: 'primary' | 'replica'; state: 'up' | 'down' }[] };
  nats: { connectedTo?: string; knownServers?: string[] };
}

type ProbedRedis = { ping(): Promise<string>; cluster?: unknown; isCluster?: boolean };
type ProbedNats = {
  isClosed(): boolean;
  status(): AsyncIterable<{ type: string }>;
  getServer?(): string;
  info?: { connect_urls?: string[] };
};

/**
 * Readiness probes that tell the truth: Redis answers PING now; NATS is connected (tracked from its status feed).
 * `topology()` says which node is down: on a Redis Cluster, every node with its role and whether the cluster marks it
 * failed (from `CLUSTER NODES` as one live node sees it); for NATS, the server this process is connected to and the
 * cluster's servers it knows of.
 */
export function readinessProbes(redis: ProbedRedis, nc: ProbedNats) {
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
    topology: async (): Promise<Topology> => {
      const nats = { connectedTo: natsUp && !nc.isClosed() ? nc.getServer?.() : undefined, knownServers: nc.info?.connect_urls };
      if (!redis.isCluster) return { redis: { mode: 'single' }, nats };
      const cluster = redis as unknown as { cluster(sub: 'NODES'): Promise<string>; cluster(sub: 'INFO'): Promise<string> };
      try {
        const [nodesText, info] = await Promise.all([cluster.cluster('NODES'), cluster.cluster('INFO')]);
        const nodes = nodesText
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const [, addr, flags, , , , , link] = line.split(' ');
            const failed = /(^|,)fail\??(,|$)/.test(flags) || link !== 'connected';
            return { node: addr.split('@')[0], role: flags.includes('master') ? ('primary' as const) : ('replica' as const), state: failed ? ('down' as const) : ('up' as const) };
          })
          .sort((a, b) => a.node.localeCompare(b.node));
        return { redis: { mode: 'cluster', state: /cluster_state:(\w+)/.exec(info)?.[1], nodes }, nats };
      } catch {
        return { redis: { mode: 'cluster', state: 'unreachable' }, nats };
      }
    },
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
