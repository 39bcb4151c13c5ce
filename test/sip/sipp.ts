/** Runs SIPp (Debian's sip-tester) against a server: one scenario, one call, its exit code and output. */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, freePort } from '@imc/runtime';

// beside this file in the source tree; from dist/test/sip (benchmarks), back in the source tree
export const SCENARIOS = existsSync(join(__dirname, 'scenarios')) ? join(__dirname, 'scenarios') : join(__dirname, '..', '..', '..', 'test', 'sip', 'scenarios');

export function sippAvailable(): boolean {
  return !!findBinary('sipp');
}

export interface SippRun {
  code: number;
  output: string;
  errors: string;
}

export async function runSipp(o: {
  scenario: string;
  target: string;
  transport: 'u1' | 't1' | 'un' | 'tn';
  fields: string[][];
  service?: string;
  /** The digest uri without its "sip:" (default: the scenarios' Request-URI, [service]@example.com or deferred@example.com). */
  authUri?: string;
  calls?: number;
  rate?: number;
  timeoutS?: number;
  extra?: string[];
}): Promise<SippRun> {
  const dir = mkdtempSync(join(tmpdir(), 'imc-sipp-'));
  const inf = join(dir, 'fields.csv');
  writeFileSync(inf, `SEQUENTIAL\n${o.fields.map((f) => f.join(';')).join('\n')}\n`);
  const port = await freePort();
  const args = [
    o.target,
    '-sf', join(SCENARIOS, o.scenario),
    '-inf', inf,
    '-t', o.transport,
    '-i', '127.0.0.1',
    '-p', String(port),
    '-m', String(o.calls ?? 1),
    '-r', String(o.rate ?? 10),
    '-timeout', `${o.timeoutS ?? 15}s`,
    '-timeout_error',
    '-nostdin',
    '-trace_err',
    '-max_socket', '1024',
    ...(o.service ? ['-s', o.service] : []),
    // SIPp's digest uri is "sip:<remote ip>:<port>" unless told otherwise; the server checks that it is the
    // Request-URI (RFC 2617 §3.2.2.5): sip:[service]@example.com in the deposit scenario, the deferred-messaging
    // URI in the retrieval ones (SIPp writes "sip:" before the value)
    '-auth_uri', o.authUri ?? `${o.service ?? 'deferred'}@example.com`,
    // digest credentials: SIPp's [authentication] keyword takes them from -au/-ap (fields cannot nest in it)
    ...(o.fields[0]?.[0] ? ['-au', o.fields[0][0], '-ap', o.fields[0][1] ?? ''] : []),
    ...(o.extra ?? []),
  ];
  const out: string[] = [];
  const code = await new Promise<number>((resolve) => {
    const p = spawn(findBinary('sipp')!, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d) => out.push(String(d)));
    p.stderr.on('data', (d) => out.push(String(d)));
    p.on('exit', (c) => resolve(c ?? -1));
  });
  const errors = readdirSync(dir)
    .filter((f) => f.endsWith('_errors.log'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
  rmSync(dir, { recursive: true, force: true });
  return { code, output: out.join('').slice(-3000), errors: errors.slice(-3000) };
}
