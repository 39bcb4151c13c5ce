/**
 * Reads and validates environment variables once, at start-up (STYLE.md habit 9: configuration fails fast with a
 * message naming the variable). Every service builds its typed config with one of these; nothing else reads
 * `process.env`.
 */
import { redactUrl } from './redact-url';

export class ConfigError extends Error {
  constructor(readonly variable: string, problem: string) {
    super(`invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

export class EnvReader {
  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  str(name: string, fallback: string): string;
  str(name: string, fallback?: undefined): string | undefined;
  str(name: string, fallback?: string): string | undefined {
    return this.raw(name) ?? fallback;
  }

  /** A secret (password): kept exactly as given, spaces included; unset or empty → undefined. Never echoed in errors. */
  secret(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v === '' ? undefined : v;
  }

  /** A string that may be empty (e.g. a prefix), kept verbatim. */
  verbatim(name: string, fallback: string, pattern?: RegExp): string {
    const v = this.env[name] ?? fallback;
    if (pattern && !pattern.test(v)) throw new ConfigError(name, `must match ${pattern} (got ${JSON.stringify(v)})`);
    return v;
  }

  int(name: string, fallback: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (!/^-?\d+$/.test(v)) throw new ConfigError(name, `must be an integer (got ${JSON.stringify(v)})`);
    const n = Number(v);
    if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max} (got ${n})`);
    return n;
  }

  port(name: string, fallback: number): number {
    return this.int(name, fallback, 0, 65535);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(v))
      throw new ConfigError(name, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
    return v as T;
  }

  list<T extends string>(name: string, allowed: readonly T[], fallback: T[]): T[] {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    const items = v.split(',').map((s) => s.trim()).filter(Boolean);
    if (items.length === 0) throw new ConfigError(name, 'must name at least one value');
    for (const it of items)
      if (!(allowed as readonly string[]).includes(it))
        throw new ConfigError(name, `values must be among ${allowed.join(', ')} (got ${JSON.stringify(it)})`);
    return items as T[];
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    throw new ConfigError(name, `must be true or false (got ${JSON.stringify(v)})`);
  }

  /** One or several comma-separated URLs with the given schemes. */
  urls(name: string, schemes: string[], fallback: string): string {
    const v = this.raw(name) ?? fallback;
    for (const part of v.split(',')) {
      let u: URL;
      try {
        u = new URL(part.trim());
      } catch {
        throw new ConfigError(name, `must be a URL (got ${JSON.stringify(redactUrl(part))}); percent-encode @ / : # in credentials, or give them in the separate variables`);
      }
      if (!schemes.includes(u.protocol.replace(/:$/, '')))
        throw new ConfigError(name, `must use ${schemes.join(' or ')}:// (got ${JSON.stringify(redactUrl(part))})`);
    }
    return v;
  }
}
