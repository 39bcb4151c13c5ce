/**
 * imc — the IM Charging command line (operations.md "CLI"):
 *   imc account create|show|top-up|suspend|activate …   imc user add …   imc deposit <to> <text>
 *   imc retrieve <aor> --password …   imc report --from --to --format csv|json|html --out FILE
 *   imc windows list|show|create|select|delete|register-as|capacity … (windows-commands.ts)
 * It talks to the admin HTTP APIs (and, for `retrieve`, SIP + MSRP like any user). `--json` prints machine-readable
 * output; every bad argument gets a clear error and exit code 2.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { env, fail, http, intFlag, need, Parsed, parseArgs, strFlag, UsageError } from './args';
import { money } from './money';
export { fail, http, intFlag, need, parseArgs, strFlag, UsageError } from './args';
export type { Parsed } from './args';
import { WINDOWS_FLAGS, WINDOWS_HELP } from './windows-commands';


const HELP: Record<string, string> = {
  main: `imc — IM Charging command line

  imc account create <subscriber> --balance <minor units> [--currency EUR]
  imc account show <subscriber>
  imc account top-up <subscriber> --amount <minor units> [--request-id ID]
  imc account suspend|activate <subscriber>
  imc user add <aor> --password <password>
  imc deposit <to-aor> <text> [--from <aor> [--password <password>]] [--bdt <bdtReferenceId>]
  imc retrieve <aor> --password <password> [--ws | --tcp | --tls] [--expect N] [--idle-ms 1500] [--yes]
  imc report [--from ISO] [--to ISO] [--format csv|json|html] [--source store|jetstream] [--out FILE]
  imc windows list|show|create|select|delete|register-as|capacity …   (background retrieval windows)

Options: --json (machine-readable output), --help (per command).
Environment: IMC_ENABLER_URL (http://127.0.0.1:8081), IMC_IM_URL (http://127.0.0.1:8080),
             ADMIN_TOKEN (dev-admin-token), IMC_SIP_WS (ws://127.0.0.1:5066)`,
  account: `imc account create <subscriber> --balance <minor units> [--currency EUR] [--json]
imc account show <subscriber> [--json]
imc account top-up <subscriber> --amount <minor units> [--request-id ID] [--json]
imc account suspend <subscriber> | imc account activate <subscriber>`,
  user: 'imc user add <aor> --password <password> [--json]   (stores SIP digest credentials as HA1)',
  deposit: `imc deposit <to-aor> <text> [--from <aor>] [--bdt <bdtReferenceId>] [--json]
  stores a deferred message through the im-server admin API (ADMIN_TOKEN); --bdt tags it with a background window
imc deposit <to-aor> <text> --from <aor> --password <password> [--json]
  sends a SIP MESSAGE (RFC 3428) as that user over SIP-over-WebSocket (IMC_SIP_WS), answering the digest challenge`,
  retrieve:
    'imc retrieve <aor> --password <password> [--ws | --tcp | --tls] [--expect N] [--idle-ms MS] [--yes] [--json]\n  shows what the waiting messages cost and how many your credit covers (GET /v1/me/deferred), asks before going on (--yes: do not ask; stdin not a terminal: no question), then REGISTER, INVITE sip:deferred@<domain> asking for advice of charge, receive over MSRP (--ws, the default: MSRP over WebSocket; --tcp: MSRP over TCP; --tls: MSRP over TLS, the server\'s certificate checked against the a=fingerprint of its answer), print the messages and the charge (the server\'s AoC-E when it sends one).',
  windows: WINDOWS_HELP,
  report: `imc report [--from ISO] [--to ISO] [--format csv|json|html] [--source store|jetstream] [--out FILE]
  billing report from the enabler, built from its CDR store (default) or read back from the JetStream CDR stream`,
};


/** The flags each command takes (besides --json and --help); anything else is a usage error. */
const FLAGS: Record<string, string[]> = {
  account: ['balance', 'currency', 'amount', 'request-id'],
  user: ['password'],
  deposit: ['from', 'password', 'bdt'],
  retrieve: ['password', 'ws', 'tcp', 'tls', 'expect', 'idle-ms', 'yes'],
  report: ['from', 'to', 'format', 'out', 'source'],
  windows: WINDOWS_FLAGS,
};

function checkFlags(cmd: string, p: Parsed): void {
  const allowed = FLAGS[cmd];
  if (!allowed) return;
  for (const f of Object.keys(p.flags)) {
    if (f === 'json' || f === 'help') continue;
    if (!allowed.includes(f)) throw new UsageError(`imc ${cmd}: unknown option --${f} (options: ${allowed.map((a) => `--${a}`).join(', ')}, --json)`);
  }
}

/** A yes/no question on the terminal; none when stdin is not a TTY (scripts, CI). */
function terminalQuestion(): ((q: string) => Promise<string>) | undefined {
  if (!process.stdin.isTTY) return undefined;
  return async (q) => {
    const rl = (await import('node:readline/promises')).createInterface({ input: process.stdin, output: process.stdout });
    try {
      return await rl.question(q);
    } finally {
      rl.close();
    }
  };
}

export async function run(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(`${s}\n`),
  /** Asks the user a question (tests give one); default: the terminal's, when stdin is a TTY. */
  ask?: (q: string) => Promise<string>,
): Promise<number> {
  const [cmd, ...rest] = argv;
  const p = parseArgs(rest);
  const json = p.flags.json === true;
  if (!cmd || cmd === '--help' || cmd === 'help') {
    out(HELP.main);
    return cmd ? 0 : 2;
  }
  if (p.flags.help) {
    out(HELP[cmd] ?? HELP.main);
    return 0;
  }
  checkFlags(cmd, p);
  const ce = env('IMC_ENABLER_URL', 'http://127.0.0.1:8081');
  const im = env('IMC_IM_URL', 'http://127.0.0.1:8080');
  switch (cmd) {
    case 'account': {
      const sub = p.positional[0];
      const subscriber = need(p, 1, 'subscriber (e.g. sip:bob@example.com)');
      const path = `/v1/accounts/${encodeURIComponent(subscriber)}`;
      let r;
      if (sub === 'create') {
        r = await http(ce, 'POST', '/v1/accounts', { subscriber, balance: intFlag(p, 'balance', true), currency: strFlag(p, 'currency') ?? 'EUR' });
        if (r.status !== 201) fail(r, 'account create');
      } else if (sub === 'show') {
        r = await http(ce, 'GET', path);
        if (r.status !== 200) fail(r, 'account show');
      } else if (sub === 'top-up') {
        r = await http(ce, 'POST', `${path}/top-ups`, { amount: intFlag(p, 'amount', true), requestId: strFlag(p, 'request-id') ?? `imc-${randomUUID()}` });
        if (r.status !== 201) fail(r, 'account top-up');
        r = await http(ce, 'GET', path);
      } else if (sub === 'suspend' || sub === 'activate') {
        r = await http(ce, 'PATCH', path, { state: sub === 'suspend' ? 'suspended' : 'active' });
        if (r.status !== 200) fail(r, `account ${sub}`);
      } else throw new UsageError(`unknown account command ${JSON.stringify(sub)} (create, show, top-up, suspend, activate)`);
      const a = r.json;
      out(json ? JSON.stringify(a) : `${a.subscriber}  ${a.state}  balance ${money(a.balance, a.currency)}  reserved ${money(a.reserved, a.currency)}  available ${money(a.available, a.currency)}`);
      return 0;
    }
    case 'user': {
      if (p.positional[0] !== 'add') throw new UsageError('usage: imc user add <aor> --password <password>');
      const aor = need(p, 1, 'aor (e.g. sip:bob@example.com)');
      const r = await http(im, 'PUT', `/v1/users/${encodeURIComponent(aor)}`, { password: strFlag(p, 'password', true) });
      if (r.status !== 201 && r.status !== 200) fail(r, 'user add');
      out(json ? JSON.stringify(r.json) : `${r.json.created ? 'created' : 'updated'} ${r.json.aor} (digest username ${r.json.username}, realm ${r.json.realm})`);
      return 0;
    }
    case 'deposit': {
      const to = need(p, 0, 'recipient aor');
      const text = need(p, 1, 'message text');
      const password = strFlag(p, 'password');
      if (password !== undefined) {
        // as a SIP user: a pager-mode MESSAGE from --from, authenticated with its digest credentials
        const sender = strFlag(p, 'from');
        if (!sender) throw new UsageError('--from <aor> is required with --password (the MESSAGE is sent as that user)');
        const { sendSipMessage } = await import('./sip-message');
        const r = await sendSipMessage({ sipWsUrl: env('IMC_SIP_WS', 'ws://127.0.0.1:5066'), from: sender, password, to, text });
        if (r.status < 200 || r.status >= 300) throw new Error(`deposit: MESSAGE refused: ${r.status} ${r.reason}`);
        out(json ? JSON.stringify({ status: r.status, reason: r.reason, to, from: sender }) : `MESSAGE accepted (${r.status} ${r.reason}) for ${to}`);
        return 0;
      }
      const from = strFlag(p, 'from') ?? 'sip:operator@example.com';
      const bdt = strFlag(p, 'bdt');
      const r = await http(im, 'POST', `/v1/users/${encodeURIComponent(to)}/deferred`, { from, text, ...(bdt ? { bdtReferenceId: bdt } : {}) });
      if (r.status !== 201) fail(r, 'deposit');
      out(json ? JSON.stringify(r.json) : `stored ${r.json.id} for ${to}`);
      return 0;
    }
    case 'retrieve': {
      const aor = need(p, 0, 'aor (e.g. sip:bob@example.com)');
      const password = strFlag(p, 'password', true);
      if ([p.flags.ws, p.flags.tcp, p.flags.tls].filter(Boolean).length > 1) throw new UsageError('--ws and --tcp exclude each other, and --tls excludes both (MSRP over WebSocket, TCP or TLS)');
      const { retrieveCommand } = await import('./retrieve-command');
      return retrieveCommand({
        aor,
        password,
        msrp: p.flags.tcp ? 'tcp' : p.flags.tls ? 'tls' : 'ws', // --ws is the default
        expect: intFlag(p, 'expect', false),
        idleMs: intFlag(p, 'idle-ms', false) ?? 1500,
        yes: p.flags.yes === true,
        json,
        sipWsUrl: env('IMC_SIP_WS', 'ws://127.0.0.1:5066'),
        im,
        account: () => http(ce, 'GET', `/v1/accounts/${encodeURIComponent(aor)}`),
        out,
        ask: ask ?? terminalQuestion(),
      });
    }
    case 'report': {
      const format = strFlag(p, 'format') ?? 'json';
      if (!['csv', 'json', 'html'].includes(format)) throw new UsageError('--format must be csv, json or html');
      const source = strFlag(p, 'source') ?? 'store';
      if (!['store', 'jetstream'].includes(source)) throw new UsageError('--source must be store or jetstream');
      const q = new URLSearchParams({ format, source });
      for (const k of ['from', 'to']) {
        const v = strFlag(p, k);
        if (v !== undefined) {
          if (Number.isNaN(Date.parse(v))) throw new UsageError(`--${k} must be an ISO 8601 date or date-time`);
          q.set(k, v);
        }
      }
      const r = await http(ce, 'GET', `/v1/reports/billing?${q}`);
      if (r.status !== 200) fail(r, 'report');
      const outFile = strFlag(p, 'out');
      if (outFile) {
        writeFileSync(outFile, r.text);
        out(json ? JSON.stringify({ written: outFile, bytes: r.text.length }) : `wrote ${outFile} (${r.text.length} bytes)`);
      } else out(r.text);
      return 0;
    }
    case 'windows': {
      const { windowsCommand } = await import('./windows-commands');
      return windowsCommand(im, p, json, out);
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
  }
}

/** Entry point of the `imc` binary. */
export function cli(): void {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`imc: ${e.message}\n`);
      if (e instanceof UsageError) process.stderr.write(`(imc --help for usage)\n`);
      process.exit(e instanceof UsageError ? 2 : 1);
    },
  );
}
