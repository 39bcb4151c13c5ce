/**
 * The page's script (bundled with esbuild into public/client.js): a login form with SIP credentials, the waiting
 * count from message-summary, a Retrieve button and the list of messages received. The SIP-over-WebSocket URL is
 * `ws://<this host>:5066` unless the page is opened with `?sip=ws://…`.
 */
import { AocInfo, BrowserMessage, formatAocMoney, Summary, WebImClient } from './browser-retrieval';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function status(text: string, error = false): void {
  const el = $('status');
  el.textContent = text;
  el.className = error ? 'error' : '';
}

/** What a receipt (IMDN) says of the message this user sent. */
const RECEIPT_WORDS: Record<string, string> = { delivered: 'delivered', displayed: 'read', failed: 'not delivered', forbidden: 'not delivered', error: 'not delivered' };

function showMessage(m: BrowserMessage): void {
  if (m.imdn) return showReceipt(m, m.imdn);
  const li = document.createElement('li');
  li.className = 'message';
  const head = document.createElement('div');
  head.className = 'meta';
  head.textContent = `${m.from ?? 'unknown sender'} · ${m.dateTime ? new Date(m.dateTime).toLocaleString() : 'no date'}`;
  const body = document.createElement('div');
  body.className = 'text';
  body.textContent = m.text;
  li.append(head, body);
  $('messages').append(li);
}

/**
 * A receipt for a message this user sent (RFC 5438): "delivered" (or "read", "not delivered") beside the message it
 * names — the recipient, when it was sent and its Message-ID.
 */
function showReceipt(m: BrowserMessage, imdn: NonNullable<BrowserMessage['imdn']>): void {
  const li = document.createElement('li');
  li.className = 'receipt';
  const sent = document.createElement('span');
  sent.className = 'sent';
  sent.textContent = `your message to ${imdn.recipient ?? m.from ?? 'unknown'} · ${new Date(imdn.dateTime).toLocaleString()} (${imdn.messageId})`;
  const state = document.createElement('span');
  state.className = `receipt-status ${imdn.status}`;
  state.textContent = RECEIPT_WORDS[imdn.status] ?? imdn.status;
  li.append(sent, ' — ', state);
  $('messages').append(li);
}

let client: WebImClient | undefined;

function showSummary(s: Summary): void {
  $('waiting').textContent = String(s.newMessages);
  $<HTMLButtonElement>('retrieve').disabled = s.newMessages === 0;
  void showQuote();
}

let credentials = '';

/** The user's own balance from the im-server that served this page (GET /v1/me/balance); hidden when unavailable. */
async function showBalance(): Promise<void> {
  try {
    const r = await fetch('/v1/me/balance', { headers: { authorization: `Basic ${credentials}` } });
    if (!r.ok) return;
    const b = (await r.json()) as { balance: number; currency: string };
    $('balance').textContent = `${(b.balance / 100).toFixed(2)} ${b.currency}`;
    $('credit').hidden = false;
  } catch {
    /* page not served by the im-server: no balance */
  }
}

const cents = (n: number, currency: string) => `${(n / 100).toFixed(2)} ${currency}`;

/**
 * Advice of charge beside the Retrieve button (GET /v1/me/deferred): what the waiting messages cost and how many of
 * them the credit covers — asked again whenever the waiting count changes; nothing is reserved by asking.
 */
async function showQuote(): Promise<void> {
  if (!credentials) return;
  try {
    const r = await fetch('/v1/me/deferred', { headers: { authorization: `Basic ${credentials}` } });
    if (!r.ok) return;
    const q = (await r.json()) as { count: number; price: number; currency: string; affordable: number; receipts?: number };
    const covers = q.affordable === q.count ? 'your credit covers them all' : `your credit covers ${q.affordable} of ${q.count}`;
    $('quote').textContent = q.count === 0 ? (q.receipts ? `${q.receipts} receipt(s), free` : '') : `price ${cents(q.price, q.currency)} — ${covers}`;
    $('quote').hidden = false;
  } catch {
    /* page not served by the im-server: no quote */
  }
}

/** The server's advice of charge after a retrieval (AoC-E), or undefined when it sent none. */
function adviceText(e: AocInfo | undefined): string | undefined {
  if (!e) return undefined;
  const cost = e.free ? 'free' : e.amount ? formatAocMoney(e.amount) : 'not known yet';
  return `cost ${cost}${e.balanceAfter ? `, balance after ${formatAocMoney(e.balanceAfter)}` : ''}`;
}

/** The status line after a retrieval: what came, and what it cost (receipts are free). */
function receivedText(messages: number, receipts: number, aocE: AocInfo | undefined): string {
  if (messages === 0 && receipts > 0) return `${receipts} receipt(s) received, free`;
  const what = `${messages} message(s)${receipts ? ` and ${receipts} receipt(s)` : ''} received`;
  return `${what}; ${adviceText(aocE) ?? "each was charged to your account at the operator's tariff"}`;
}

async function login(ev: Event): Promise<void> {
  ev.preventDefault();
  const params = new URLSearchParams(location.search);
  const sipWsUrl = params.get('sip') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.hostname || '127.0.0.1'}:5066`;
  let aor = $<HTMLInputElement>('aor').value.trim();
  if (!aor.startsWith('sip:')) aor = `sip:${aor}`;
  if (!/^sip:[^@\s]+@[^@\s]+$/.test(aor)) return status('enter an address like sip:bob@example.com', true);
  status(`logging in as ${aor}…`);
  client = new WebImClient({ sipWsUrl, aor, password: $<HTMLInputElement>('password').value, onSummary: showSummary, onMessage: showMessage });
  try {
    await client.login();
  } catch (e) {
    await client.logout();
    client = undefined;
    return status((e as Error).message, true);
  }
  $('login').hidden = true;
  $('inbox').hidden = false;
  $('who').textContent = aor;
  credentials = btoa(unescape(encodeURIComponent(`${aor.slice(4, aor.indexOf('@'))}:${$<HTMLInputElement>('password').value}`)));
  void showBalance();
  void showQuote();
  status('logged in');
}

async function retrieve(): Promise<void> {
  if (!client) return;
  $<HTMLButtonElement>('retrieve').disabled = true;
  status('retrieving…');
  try {
    const r = await client.retrieve();
    if (r.status !== 200) status(`refused: ${r.status} ${r.reason ?? ''}${r.warning ? ` — ${r.warning}` : ''}`, true);
    else status(receivedText(r.messages.filter((m) => !m.imdn).length, r.messages.filter((m) => m.imdn).length, r.aocE));
    await showBalance();
    await showQuote();
  } catch (e) {
    status((e as Error).message, true);
  }
}

$('login').addEventListener('submit', (e) => void login(e));
$('retrieve').addEventListener('click', () => void retrieve());
$('logout').addEventListener('click', () => {
  void client?.logout();
  location.reload();
});
