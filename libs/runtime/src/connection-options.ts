/**
 * The one place where NATS and Redis connection settings are built from the environment, and where URLs are
 * redacted for log lines and errors (operations.md "Environment").
 *
 * nats.js ignores a user and password written inside a server URL (`nats://u:p@host` gets `Authorization
 * Violation`): it takes them only as the `user`/`pass` options. So the credentials are taken out of the URLs here,
 * percent-decoded, and handed over as options; the servers are passed without them. ioredis does read URL
 * credentials, but a password with `@ / : #` breaks a URL unless percent-encoded, so Redis gets the same treatment.
 * The separate variables (NATS_USER / NATS_PASSWORD, REDIS_USERNAME / REDIS_PASSWORD) take any character as it is
 * and win over credentials in the URL; that is what docker-compose.yml uses.
 */
import { ConfigError } from './env-reader';
import { redactUrl } from './redact-url';

/** Credentials given beside the URL (verbatim environment values). */
export interface Credentials {
  user?: string;
  password?: string;
}

/** What nats.js `connect()` needs to reach the servers (spread it into the connect options). */
export interface NatsConnectionOptions {
  servers: string[];
  user?: string;
  pass?: string;
  /** `nats://TOKEN@host`: a user without a password is a token (NATS token authentication). */
  token?: string;
}

/** A Redis target: credential-free URL(s), comma-separated for a cluster, and the credentials beside them. */
export interface RedisConnection {
  url: string;
  username?: string;
  password?: string;
}

interface SplitUrl {
  /** The URL without its user information. */
  bare: string;
  user?: string;
  password?: string;
}

function decode(variable: string, s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ConfigError(variable, 'has credentials that are not validly percent-encoded (or use the separate user/password variables)');
  }
}

/** Splits one URL into its credential-free form and its decoded credentials; a string that is no URL stays as it is. */
function splitUrl(variable: string, raw: string): SplitUrl {
  const s = raw.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return { bare: s };
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ConfigError(variable, `must be a URL (got ${JSON.stringify(redactUrl(s))}); percent-encode @ / : # in credentials, or use the separate user/password variables`);
  }
  // an unencoded "#" in a password silently cuts the URL there (the rest becomes a fragment): refuse it
  if (u.hash) throw new ConfigError(variable, `has a "#" (got ${JSON.stringify(redactUrl(s))}); percent-encode @ / : # in credentials, or use the separate user/password variables`);
  const user = u.username ? decode(variable, u.username) : undefined;
  const password = u.password ? decode(variable, u.password) : undefined;
  u.username = '';
  u.password = '';
  return { bare: u.toString(), user, password };
}

/** The credentials of a list of URLs: all that carry some must carry the same. */
function urlCredentials(variable: string, parts: SplitUrl[]): Credentials {
  const withCreds = parts.filter((p) => p.user !== undefined || p.password !== undefined);
  for (const p of withCreds)
    if (p.user !== withCreds[0].user || p.password !== withCreds[0].password)
      throw new ConfigError(variable, 'lists servers with different credentials; one set is used for all of them');
  return withCreds.length ? { user: withCreds[0].user, password: withCreds[0].password } : {};
}

function urlList(url: string): string[] {
  return url.split(',').map((u) => u.trim()).filter(Boolean);
}

/**
 * nats.js connect options from NATS_URL (one or several comma-separated servers) and NATS_USER / NATS_PASSWORD.
 * A user alone in the URL (`nats://s3cr3t@host`) is a token.
 */
export function natsConnectionOptions(url: string, explicit: Credentials = {}, variable = 'NATS_URL'): NatsConnectionOptions {
  const parts = urlList(url).map((u) => splitUrl(variable, u));
  const fromUrl = urlCredentials(variable, parts);
  const servers = parts.map((p) => p.bare);
  if (explicit.user !== undefined || explicit.password !== undefined) {
    const user = explicit.user ?? fromUrl.user;
    if (explicit.password !== undefined && user === undefined) throw new ConfigError('NATS_PASSWORD', 'needs NATS_USER (or a user in NATS_URL)');
    return { servers, user, pass: explicit.password ?? fromUrl.password };
  }
  if (fromUrl.user !== undefined && fromUrl.password === undefined) return { servers, token: fromUrl.user };
  return { servers, ...(fromUrl.user !== undefined ? { user: fromUrl.user } : {}), ...(fromUrl.password !== undefined ? { pass: fromUrl.password } : {}) };
}

/** A Redis target from REDIS_URL (one node, or comma-separated cluster nodes) and REDIS_USERNAME / REDIS_PASSWORD. */
export function redisConnection(url: string, explicit: Credentials = {}, variable = 'REDIS_URL'): RedisConnection {
  const parts = urlList(url).map((u) => splitUrl(variable, u));
  const fromUrl = urlCredentials(variable, parts);
  const username = explicit.user ?? fromUrl.user;
  const password = explicit.password ?? fromUrl.password;
  return { url: parts.map((p) => p.bare).join(','), ...(username ? { username } : {}), ...(password !== undefined ? { password } : {}) };
}
