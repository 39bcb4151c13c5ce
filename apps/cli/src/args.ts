/** The CLI's argument parsing and its calls to the admin HTTP APIs, shared by every command file. */
// the redaction alone: the CLI does not load the services' runtime (Nest, ioredis)
import { redactUrl } from '@imc/runtime/redact-url';

export class UsageError extends Error {}

export interface Parsed {
  positional: string[];
  flags: Record<string, string | true>;
}

export function parseArgs(argv: string[]): Parsed {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags[a.slice(2, eq)] = a.slice(eq + 1);
      else if (i + 1 < argv.length && !argv[i + 1].startsWith('--') && !['json', 'ws', 'tcp', 'tls', 'help', 'yes'].includes(a.slice(2))) flags[a.slice(2)] = argv[++i];
      else flags[a.slice(2)] = true;
    } else positional.push(a);
  }
  return { positional, flags };
}

export function env(name: string, fallback: string): string {
  return process.env[name] ?? fallback;
}

export async function http(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${env('ADMIN_TOKEN', 'dev-admin-token')}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new Error(`cannot reach ${redactUrl(base)} (${(e as Error).cause ?? (e as Error).message}); is the stack running (npm start)?`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

export function fail(r: { status: number; json: any; text: string }, what: string): never {
  // Nest errors carry `message`; the T8 API answers TS 29.122 problem details (`detail`, `invalidParams`)
  const params = Array.isArray(r.json?.invalidParams) ? r.json.invalidParams.map((x: { param: string; reason: string }) => `${x.param}: ${x.reason}`) : undefined;
  const msg = r.json?.message ?? params ?? r.json?.detail ?? r.json?.error ?? r.text;
  throw new Error(`${what}: HTTP ${r.status} ${Array.isArray(msg) ? msg.join('; ') : msg}`);
}

export function need(p: Parsed, i: number, what: string): string {
  const v = p.positional[i];
  if (!v) throw new UsageError(`missing ${what}`);
  return v;
}

export function intFlag(p: Parsed, name: string, required: boolean): number | undefined {
  const v = p.flags[name];
  if (v === undefined) {
    if (required) throw new UsageError(`--${name} is required`);
    return undefined;
  }
  if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer (minor units), got ${JSON.stringify(v)}`);
  return Number(v);
}

export function strFlag(p: Parsed, name: string, required: true): string;
export function strFlag(p: Parsed, name: string, required?: false): string | undefined;
export function strFlag(p: Parsed, name: string, required = false): string | undefined {
  const v = p.flags[name];
  if (v === undefined || v === true) {
    if (required) throw new UsageError(`--${name} <value> is required`);
    return undefined;
  }
  return v;
}
