/**
 * The im-server's configuration, parsed and validated once from the environment (operations.md "Environment").
 * A bad value stops the service with an error naming the variable.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError, Env, EnvReader, LogFormat, readLogFormat, readServiceEnv, ServiceEnv } from '@imc/runtime';

export const CHARGING_POLICIES = ['on-outcome', 'on-delivery', 'before-send'] as const;
export type ChargingPolicy = (typeof CHARGING_POLICIES)[number];
export const FAILURE_HANDLING = ['terminate', 'continue', 'retry-and-terminate'] as const;
export type FailureHandling = (typeof FAILURE_HANDLING)[number];

export interface ImServerConfig extends ServiceEnv {
  /** LOG_FORMAT: `pretty` lines for a terminal, `json` for collectors (default by whether stdout is a terminal). */
  logFormat: LogFormat;
  domain: string;
  /** Address the SIP and MSRP listeners bind to. */
  bindHost: string;
  /** Address written in Via, Contact, SDP and MSRP paths. */
  advertisedHost: string;
  sipUdpPort: number;
  sipTcpPort: number;
  sipWsPort: number;
  /** TLS (RFC 3261 §26.2) and WSS listeners, only when a certificate and key are configured. */
  tls?: { cert: string; key: string; sipTlsPort: number; sipWssPort: number };
  msrpTcpPort: number;
  msrpWsPort: number;
  /**
   * MSRP over TLS (`msrps`, RFC 4975 §14): a listener with its own certificate (MSRP_TLS_CERT/KEY) or SIP's, only when
   * one is configured. `require` refuses plain `TCP/MSRP` offers (488).
   */
  msrpTls?: { cert: string; key: string; port: number; require: boolean };
  /** A connection to an MSRP listener that has bound no session after this long is closed. */
  msrpBindTimeoutMs: number;
  /** Connections to the MSRP listeners (TCP, TLS and WebSocket together) without a bound session, per source IP and in total. */
  msrpMaxUnboundPerSource: number;
  msrpMaxUnbound: number;
  /**
   * a=setup answered to an `actpass` MSRP-over-TCP offer (MSRP_SETUP): `active` (RFC 6135's answer: the server
   * connects to the client's path) or `passive` (the client connects to the server's path: for a server that cannot
   * dial its clients, e.g. in a container behind NAT). An `active` or `passive` offer is always answered its opposite.
   */
  msrpSetup: 'active' | 'passive';
  auth: 'digest' | 'none';
  depositAuth: 'digest' | 'none';
  digestAlgorithms: ('MD5' | 'SHA-256')[];
  /** Key of the nonce HMAC; the same on every replica (see `digestSecretOf`). */
  digestSecret: string;
  /** How long a digest nonce is good for; after it the right credentials get 401 stale=TRUE. */
  nonceTtlMs: number;
  /** Password-guessing throttle (auth/login-throttle.ts): per source strict, per account looser and short. */
  authThrottle: { sourceLimit: number; sourceWindowMs: number; accountLimit: number; accountWindowMs: number };
  trustedProxies: string[];
  deferredUser: string;
  maxMessageBytes: number;
  userMaxMessages: number;
  userMaxBytes: number;
  messageTtlSeconds: number;
  chargingPolicy: ChargingPolicy;
  failureHandling: FailureHandling;
  chargingTimeoutMs: number;
  chargingRetries: number;
  chargingService: string;
  reservationValiditySeconds: number;
  httpPort: number;
  sipT1: number;
  sipT2: number;
  sipT4: number;
  /** How long a SIP message over TCP/TLS may take to arrive whole, from its first byte (slow senders). */
  sipTcpMessageTimeoutMs: number;
  /** Connections from one source IP that may hold a half-received SIP message at once. */
  sipTcpMaxPartialPerSource: number;
  /** A SIP TCP/TLS connection with no bytes for this long is closed (0 = never). */
  sipTcpIdleTimeoutMs: number;
  /** SIP server transactions alive at once; past it, new requests get 503 + Retry-After. */
  sipMaxTransactions: number;
  msrpTimeoutMs: number;
  msrpChunkSize: number;
  /** MSRP SENDs of one retrieval awaiting their response (and settlement) at once; bodies are read ahead by at most 32. */
  msrpSendWindow: number;
  msrpConnectTimeoutMs: number;
  sessionIdleMs: number;
  successReport: boolean;
  retryIntervalMs: number;
  expirySweepMs: number;
  shutdownDeadlineMs: number;
  /** Directory of the built browser client served at /client (default: dist/apps/web-client/public). */
  webClientDir?: string;
  /** Background retrieval windows (windows/, docs/windows-and-usage.md). */
  bdt: BdtConfig;
}

export interface BdtConfig {
  /** The tariff file whose cheaper windows are offered (BDT_TARIFFS_FILE, else TARIFFS_FILE, else deploy/tariffs.yaml). */
  tariffsFile: string;
  /** Whether the file was named explicitly: then it must load, else background windows are simply off without it. */
  tariffsFileRequired: boolean;
  /** Application servers and their bearer tokens from BDT_AS_TOKENS (`asId=token,…`). */
  asTokens: Map<string, string>;
  windowCapacityOctets: number;
  maxWindowDays: number;
  maxBitRateDl?: string;
  tickMs: number;
}

function readBdt(r: EnvReader): BdtConfig {
  const explicit = r.str('BDT_TARIFFS_FILE') ?? r.str('TARIFFS_FILE');
  const asTokens = new Map<string, string>();
  for (const pair of (r.str('BDT_AS_TOKENS') ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    const eq = pair.indexOf('=');
    const asId = pair.slice(0, eq);
    const token = pair.slice(eq + 1);
    if (eq < 1 || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(asId)) throw new ConfigError('BDT_AS_TOKENS', 'must be asId=token pairs separated by commas (asId: letters, digits, ".", "_", "-")');
    if (token.length < 16) throw new ConfigError('BDT_AS_TOKENS', `the token of ${asId} must be at least 16 characters`);
    asTokens.set(asId, token);
  }
  const rate = r.str('BDT_MAX_BIT_RATE_DL');
  if (rate !== undefined && !/^\d+(\.\d+)? (bps|Kbps|Mbps|Gbps|Tbps)$/.test(rate)) throw new ConfigError('BDT_MAX_BIT_RATE_DL', `must be a TS 29.571 BitRate such as "2 Mbps" (got ${JSON.stringify(rate)})`);
  return {
    tariffsFile: explicit ?? 'deploy/tariffs.yaml',
    tariffsFileRequired: explicit !== undefined,
    asTokens,
    windowCapacityOctets: r.int('BDT_WINDOW_CAPACITY_OCTETS', 10 * 2 ** 30, 0, 2 ** 50),
    maxWindowDays: r.int('BDT_MAX_WINDOW_DAYS', 31, 1, 366),
    maxBitRateDl: rate,
    tickMs: r.int('BDT_TICK_MS', 1000, 10, 600000),
  };
}

/**
 * The nonce key. Every replica must hold the same one (a nonce issued by one is checked by another) and it must
 * survive restarts, so it is configuration, never random per process: `SIP_DIGEST_SECRET` (at least 16
 * characters) or, when that is unset, a key derived from `ADMIN_TOKEN` (which the replicas of one deployment share)
 * by HMAC with a fixed label — the admin token itself is never used as the key. Development without either gets a
 * fixed key.
 */
function digestSecretOf(r: EnvReader, adminToken: string | undefined, development: boolean): string {
  const explicit = r.str('SIP_DIGEST_SECRET');
  if (explicit !== undefined) {
    if (explicit.length < 16) throw new ConfigError('SIP_DIGEST_SECRET', `must be at least 16 characters (got ${explicit.length}); every replica needs the same value`);
    return explicit;
  }
  if (adminToken) return createHmac('sha256', adminToken).update('imc sip digest nonce key v1').digest('hex');
  if (!development) throw new ConfigError('SIP_DIGEST_SECRET', 'is required (or ADMIN_TOKEN, from which it is derived) outside development');
  return 'development-digest-secret';
}

export function loadImServerConfig(env: Env): ImServerConfig {
  const r = new EnvReader(env);
  const common = readServiceEnv(r);
  const { adminToken } = common;
  const auth = r.oneOf('SIP_AUTH', ['digest', 'none'] as const, 'digest');
  const domain = r.str('SIP_DOMAIN', 'example.com');
  if (!/^[A-Za-z0-9.-]+$/.test(domain)) throw new ConfigError('SIP_DOMAIN', `must be a host name (got ${JSON.stringify(domain)})`);
  const idleSeconds = r.int('IM_SESSION_IDLE_SECONDS', 30, 1, 86400);
  const certFile = r.str('SIP_TLS_CERT');
  const keyFile = r.str('SIP_TLS_KEY');
  if (!!certFile !== !!keyFile) throw new ConfigError(certFile ? 'SIP_TLS_KEY' : 'SIP_TLS_CERT', 'must be set together with the other (certificate and private key files, PEM)');
  const read = (name: string, file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(name, `cannot be read: ${(e as Error).message}`);
    }
  };
  let tls: ImServerConfig['tls'];
  if (certFile && keyFile) {
    tls = { cert: read('SIP_TLS_CERT', certFile), key: read('SIP_TLS_KEY', keyFile), sipTlsPort: r.port('SIP_TLS_PORT', 5061), sipWssPort: r.port('SIP_WSS_PORT', 5067) };
  }
  // MSRP over TLS: its own certificate if given, else SIP's; no certificate → no msrps listener
  const msrpCertFile = r.str('MSRP_TLS_CERT');
  const msrpKeyFile = r.str('MSRP_TLS_KEY');
  if (!!msrpCertFile !== !!msrpKeyFile) throw new ConfigError(msrpCertFile ? 'MSRP_TLS_KEY' : 'MSRP_TLS_CERT', 'must be set together with the other (certificate and private key files, PEM)');
  const msrpTlsPort = r.port('MSRP_TLS_PORT', 2857);
  const msrpRequireTls = r.bool('MSRP_REQUIRE_TLS', false);
  let msrpTls: ImServerConfig['msrpTls'];
  if (msrpCertFile && msrpKeyFile) msrpTls = { cert: read('MSRP_TLS_CERT', msrpCertFile), key: read('MSRP_TLS_KEY', msrpKeyFile), port: msrpTlsPort, require: msrpRequireTls };
  else if (tls) msrpTls = { cert: tls.cert, key: tls.key, port: msrpTlsPort, require: msrpRequireTls };
  if (msrpTls && !msrpTls.port) msrpTls = undefined; // MSRP_TLS_PORT=0 turns it off
  if (msrpTls) {
    try {
      createSecureContext({ cert: msrpTls.cert, key: msrpTls.key }); // a certificate and key that do not match fail here, not at the first client
    } catch (e) {
      throw new ConfigError(msrpCertFile ? 'MSRP_TLS_CERT' : 'SIP_TLS_CERT', `is not a usable certificate and key pair: ${(e as Error).message}`);
    }
  }
  const msrpMaxUnboundPerSource = r.int('MSRP_MAX_UNBOUND_PER_SOURCE', 16, 1, 100000);
  const msrpMaxUnbound = r.int('MSRP_MAX_UNBOUND', 1024, 1, 1000000);
  if (msrpMaxUnboundPerSource > msrpMaxUnbound) throw new ConfigError('MSRP_MAX_UNBOUND_PER_SOURCE', `must not exceed MSRP_MAX_UNBOUND (${msrpMaxUnbound})`);
  if (msrpRequireTls && !msrpTls) throw new ConfigError('MSRP_REQUIRE_TLS', 'needs a certificate (MSRP_TLS_CERT/MSRP_TLS_KEY or SIP_TLS_CERT/SIP_TLS_KEY) and a non-zero MSRP_TLS_PORT');
  return {
    ...common,
    logFormat: readLogFormat(r),
    domain: domain.toLowerCase(),
    bindHost: r.str('SIP_BIND_HOST', '0.0.0.0'),
    advertisedHost: r.str('SIP_ADVERTISED_HOST', '127.0.0.1'),
    sipUdpPort: r.port('SIP_UDP_PORT', 5060),
    sipTcpPort: r.port('SIP_TCP_PORT', 5060),
    sipWsPort: r.port('SIP_WS_PORT', 5066),
    tls,
    msrpTcpPort: r.port('MSRP_TCP_PORT', 2855),
    msrpWsPort: r.port('MSRP_WS_PORT', 2856),
    msrpTls,
    msrpBindTimeoutMs: r.int('MSRP_BIND_TIMEOUT_MS', 30000, 1, 600000),
    msrpMaxUnboundPerSource,
    msrpMaxUnbound,
    msrpSetup: r.oneOf('MSRP_SETUP', ['active', 'passive'] as const, 'active'),
    auth,
    depositAuth: r.oneOf('SIP_DEPOSIT_AUTH', ['digest', 'none'] as const, auth),
    digestAlgorithms: r.list('SIP_DIGEST_ALGORITHMS', ['MD5', 'SHA-256'] as const, ['MD5', 'SHA-256']),
    digestSecret: digestSecretOf(r, adminToken, common.development),
    nonceTtlMs: r.int('SIP_NONCE_TTL_SECONDS', 300, 5, 86400) * 1000,
    authThrottle: {
      sourceLimit: r.int('AUTH_FAIL_SOURCE_LIMIT', 10, 1, 1_000_000),
      sourceWindowMs: r.int('AUTH_FAIL_SOURCE_WINDOW_SECONDS', 900, 1, 86400) * 1000,
      accountLimit: r.int('AUTH_FAIL_ACCOUNT_LIMIT', 30, 1, 1_000_000),
      accountWindowMs: r.int('AUTH_FAIL_ACCOUNT_WINDOW_SECONDS', 300, 1, 3600) * 1000,
    },
    trustedProxies: (r.str('SIP_TRUSTED_PROXIES') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    deferredUser: r.verbatim('DEFERRED_USER', 'deferred', /^[A-Za-z0-9._~-]+$/),
    maxMessageBytes: r.int('IM_MAX_MESSAGE_BYTES', 1048576, 1, 64 * 1024 * 1024),
    userMaxMessages: r.int('IM_USER_MAX_MESSAGES', 1000, 1, 10_000_000),
    userMaxBytes: r.int('IM_USER_MAX_BYTES', 10 * 1024 * 1024, 1, 2 ** 40),
    messageTtlSeconds: r.int('IM_MESSAGE_TTL_SECONDS', 7 * 86400, 1, 365 * 86400),
    chargingPolicy: r.oneOf('CHARGING_POLICY', CHARGING_POLICIES, 'on-outcome'),
    failureHandling: r.oneOf('CHARGING_FAILURE_HANDLING', FAILURE_HANDLING, 'terminate'),
    chargingTimeoutMs: r.int('CHARGING_TIMEOUT_MS', 2000, 1, 60000),
    chargingRetries: r.int('CHARGING_RETRIES', 2, 0, 10),
    chargingService: r.str('CHARGING_SERVICE', 'im.deferred-retrieval'),
    reservationValiditySeconds: r.int('RESERVATION_VALIDITY_SECONDS', 120, 1, 86400),
    httpPort: r.port('HTTP_PORT', 8080),
    sipT1: r.int('SIP_T1_MS', 500, 1, 10000),
    sipT2: r.int('SIP_T2_MS', 4000, 1, 60000),
    sipT4: r.int('SIP_T4_MS', 5000, 0, 60000),
    sipTcpMessageTimeoutMs: r.int('SIP_TCP_MESSAGE_TIMEOUT_MS', 5000, 10, 600000),
    sipTcpMaxPartialPerSource: r.int('SIP_TCP_MAX_PARTIAL_PER_SOURCE', 16, 1, 100000),
    sipTcpIdleTimeoutMs: r.int('SIP_TCP_IDLE_TIMEOUT_MS', 900000, 0, 86400000),
    sipMaxTransactions: r.int('SIP_MAX_TRANSACTIONS', 100000, 100, 10_000_000),
    msrpTimeoutMs: r.int('MSRP_TRANSACTION_TIMEOUT_MS', 30000, 1, 600000),
    msrpChunkSize: r.int('MSRP_CHUNK_SIZE', 2048, 64, 1024 * 1024),
    msrpSendWindow: r.int('MSRP_SEND_WINDOW', 128, 1, 4096),
    msrpConnectTimeoutMs: r.int('MSRP_CONNECT_TIMEOUT_MS', 30000, 1, 600000),
    sessionIdleMs: r.int('IM_SESSION_IDLE_MS', idleSeconds * 1000, 1, 86400000),
    successReport: r.bool('MSRP_SUCCESS_REPORT', false),
    retryIntervalMs: r.int('CHARGING_RETRY_INTERVAL_MS', 1000, 5, 600000),
    expirySweepMs: r.int('IM_EXPIRY_SWEEP_MS', 60000, 10, 3600000),
    shutdownDeadlineMs: r.int('SHUTDOWN_DEADLINE_MS', 5000, 0, 600000),
    webClientDir: r.str('WEB_CLIENT_DIR'),
    bdt: readBdt(r),
  };
}
