/**
 * `imc retrieve`: advice of charge first (`GET /v1/me/deferred` with the user's HTTP Basic: what the waiting
 * messages cost and how many the credit covers), then — once the user says yes, or at once with `--yes` or when
 * stdin is not a terminal (scripts, CI: the quote is printed and the retrieval goes on, as it did before the
 * question existed) — the retrieval itself, asking the server for AoC (TS 24.647) in the INVITE's Accept; the cost
 * printed at the end is the server's AoC-E when it sent one, else the balance before less the balance after.
 */
import { AocInfo, formatAocMoney } from '@imc/retrieval-client';
import { redactUrl } from '@imc/runtime/redact-url';
import { money } from './money';

export interface Quote {
  count: number;
  octets: number;
  price: number;
  currency: string;
  balance: number;
  affordable: number;
  receipts?: number;
}

export interface RetrieveCommand {
  aor: string;
  password: string;
  msrp: 'ws' | 'tcp' | 'tls';
  expect?: number;
  idleMs: number;
  /** Go on without asking. */
  yes: boolean;
  json: boolean;
  sipWsUrl: string;
  /** The im-server's HTTP base (for /v1/me/deferred). */
  im: string;
  /** The account as the enabler's admin API shows it (balance before and after), when reachable. */
  account: () => Promise<{ status: number; json: any } | undefined>;
  out: (s: string) => void;
  /** Asks a yes/no question on the terminal; undefined when there is none (stdin is not a TTY). */
  ask?: (question: string) => Promise<string>;
}

/** The advice of charge before a retrieval; undefined (and why) when the im-server cannot give it. */
export async function fetchQuote(im: string, aor: string, password: string): Promise<{ quote?: Quote; problem?: string }> {
  const user = aor.replace(/^sips?:/, '').split('@')[0];
  let res: Response;
  try {
    res = await fetch(`${im}/v1/me/deferred`, { headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } });
  } catch (e) {
    return { problem: `cannot reach ${redactUrl(im)} (${(e as Error).message})` };
  }
  if (res.status === 401) throw new Error('retrieve: wrong username or password (HTTP 401 from /v1/me/deferred)');
  if (res.status !== 200) return { problem: `HTTP ${res.status}` };
  return { quote: (await res.json()) as Quote };
}

export function describeQuote(q: Quote): string {
  const waiting = `${q.count} message(s) waiting (${q.octets} bytes)${q.receipts ? ` and ${q.receipts} receipt(s), free` : ''}`;
  if (q.count === 0) return `${waiting}; nothing to pay`;
  const covers = q.affordable === q.count ? 'your credit covers all of them' : `your credit covers ${q.affordable} of them`;
  return `${waiting}: price ${money(q.price, q.currency)}; balance ${money(q.balance, q.currency)}; ${covers}`;
}

function describeAdvice(a: AocInfo | undefined, currency: string | undefined): string | undefined {
  if (!a) return undefined;
  const amount = a.free ? `0 ${currency ?? ''}`.trim() : a.amount ? formatAocMoney(a.amount, currency) : 'not known yet';
  if (a.kind === 'aoc-s') return `price of the messages granted: ${amount}`;
  return `cost ${amount}${a.balanceAfter ? `, balance after ${formatAocMoney(a.balanceAfter, currency)}` : ''}`;
}

export async function retrieveCommand(c: RetrieveCommand): Promise<number> {
  const { quote, problem } = await fetchQuote(c.im, c.aor, c.password);
  if (!c.json) c.out(quote ? describeQuote(quote) : `advice of charge unavailable (${problem})`);
  if (quote && quote.count + (quote.receipts ?? 0) > 0 && !c.yes && !c.json && c.ask) {
    const answer = (await c.ask(`retrieve ${quote.affordable < quote.count ? `(${quote.affordable} of ${quote.count} affordable) ` : ''}now? [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') {
      c.out('not retrieved');
      return 0;
    }
  }
  const { retrieve } = await import('./retrieval-client');
  const before = await c.account().catch(() => undefined);
  if (!c.json) c.out(`retrieving deferred messages for ${c.aor}…`);
  const res = await retrieve({
    sipWsUrl: c.sipWsUrl,
    aor: c.aor,
    password: c.password,
    msrp: c.msrp,
    expect: c.expect,
    idleMs: c.idleMs,
    timeoutMs: 60000,
    onMessage: (m) => {
      if (c.json) return;
      // a receipt for a message this user sent (RFC 5438): its status beside the message it names
      if (m.imdn) c.out(`  [${m.imdn.dateTime}] your message ${m.imdn.messageId} to ${m.imdn.recipient ?? m.from ?? '?'}: ${m.imdn.status}`);
      else c.out(`  [${m.dateTime ?? '?'}] ${m.from ?? '?'}: ${m.text}`);
    },
  });
  const after = await c.account().catch(() => undefined);
  const charged = before?.status === 200 && after?.status === 200 ? before.json.balance - after.json.balance : undefined;
  const currency: string | undefined = after?.json?.currency ?? quote?.currency;
  if (c.json) {
    const aoc = { ...(res.aocS ? { aocS: res.aocS } : {}), ...(res.aocE ? { aocE: res.aocE } : {}) };
    c.out(JSON.stringify({ status: res.status, messages: res.messages.map(({ raw: _raw, ...m }) => m), charged, currency: after?.json?.currency, quote, ...aoc }));
  } else if (res.status !== 200) {
    c.out(`refused: ${res.status} ${res.reason ?? ''}${res.warning ? ` (${res.warning})` : ''}`);
  } else {
    const granted = describeAdvice(res.aocS, currency);
    if (granted) c.out(granted);
    c.out(`${res.messages.length} message(s) received`);
    const end = describeAdvice(res.aocE, currency);
    if (end) c.out(end);
    if (charged !== undefined) c.out(`charged ${money(charged, after!.json.currency)}; balance now ${money(after!.json.balance, after!.json.currency)}`);
  }
  return res.status === 200 || res.status === 404 ? 0 : 1;
}
