/**
 * The Charging Enabler's configuration, parsed and validated once from the environment (operations.md
 * "Environment"). A bad value stops the service with an error naming the variable.
 */
import { ConfigError, Env, EnvReader, LogFormat, readLogFormat, readServiceEnv, ServiceEnv } from '@imc/runtime';
import { DEFAULT_CDR_STREAM } from '@imc/ch2';


export interface EnablerConfig extends ServiceEnv {
  /** LOG_FORMAT: `pretty` lines for a terminal, `json` for collectors (default by whether stdout is a terminal). */
  logFormat: LogFormat;
  cdrStream: string;
  tariffsFile: string;
  httpPort: number;
  defaultValiditySeconds: number;
  maxValiditySeconds: number;
  expirySweepMs: number;
  relayIntervalMs: number;
  /** Run the CDR relay on a worker thread of its own (CDR_RELAY_THREAD, default true). */
  relayThread: boolean;
  idempotencyTtlSeconds: number;
  /** Hash-tag shards of the ledger; fixed for the life of the data. */
  ledgerShards: number;
  /** How long NATS request handling drains on shutdown. */
  shutdownGraceMs: number;
  /** JetStream duplicate window for CDR ids (Nats-Msg-Id). */
  cdrDuplicateWindowSeconds: number;
  /**
   * JetStream replicas of the CDR stream (CDR_STREAM_REPLICAS): 0 = automatic (3 when the NATS server belongs to a
   * cluster, 1 otherwise). An existing stream with fewer replicas is scaled up at start.
   */
  cdrStreamReplicas: number;
  /**
   * How long a CDR stays in the Redis outbox after it was written, once JetStream acknowledged it
   * (CDR_RETENTION_DAYS, default 45: a billing month plus a margin); older CDRs are read from JetStream.
   */
  cdrRetentionDays: number;
  /**
   * How long a message's charge-once mark is kept after its charge (CHARGE_ONCE_DAYS, default 400): longer than any
   * stored message can wait for a redelivery (the im-server's IM_MESSAGE_TTL_SECONDS is at most 365 days).
   */
  chargeOnceDays: number;
}

export function loadEnablerConfig(env: Env): EnablerConfig {
  const r = new EnvReader(env);
  const common = readServiceEnv(r);
  const defaultValiditySeconds = r.int('RESERVATION_VALIDITY_SECONDS', 120, 1, 86400);
  const maxValiditySeconds = r.int('RESERVATION_MAX_VALIDITY_SECONDS', 3600, 1, 86400);
  if (defaultValiditySeconds > maxValiditySeconds)
    throw new ConfigError('RESERVATION_VALIDITY_SECONDS', `must not exceed RESERVATION_MAX_VALIDITY_SECONDS (${maxValiditySeconds})`);
  return {
    ...common,
    logFormat: readLogFormat(r),
    cdrStream: r.verbatim('CDR_STREAM', DEFAULT_CDR_STREAM, /^[A-Za-z0-9_-]+$/),
    tariffsFile: r.str('TARIFFS_FILE', 'deploy/tariffs.yaml'),
    httpPort: r.port('HTTP_PORT', 8081),
    defaultValiditySeconds,
    maxValiditySeconds,
    expirySweepMs: r.int('EXPIRY_SWEEP_MS', 1000, 10, 600000),
    relayIntervalMs: r.int('CDR_RELAY_INTERVAL_MS', 200, 5, 60000),
    relayThread: r.bool('CDR_RELAY_THREAD', true),
    idempotencyTtlSeconds: r.int('IDEMPOTENCY_TTL_SECONDS', 86400, 60, 30 * 86400),
    ledgerShards: r.int('LEDGER_SHARDS', 16, 1, 1024),
    shutdownGraceMs: r.int('SHUTDOWN_GRACE_MS', 2000, 0, 60000),
    cdrDuplicateWindowSeconds: r.int('CDR_DUPLICATE_WINDOW_SECONDS', 600, 1, 86400),
    cdrStreamReplicas: r.int('CDR_STREAM_REPLICAS', 0, 0, 5),
    cdrRetentionDays: r.int('CDR_RETENTION_DAYS', 45, 1, 3660),
    chargeOnceDays: r.int('CHARGE_ONCE_DAYS', 400, 366, 3660),
  };
}
