/**
 * The billing report (operations.md "GET /v1/reports/billing"): per subscriber and service over a period —
 * messages, octets, held (= settled holds: debited + released + expired), debited, refunded, released, expired,
 * top-ups — totals per currency, revenue per day, and a reconciliation per account comparing the CDR sums with the
 * balance change since the account was opened (`initial + top-ups + refunds − debits = balance`).
 */
import { Cdr, USAGE_REPORT_TYPE } from '@imc/ch2';
import type { AccountRecord, RedisCreditLedger } from '../ledger/redis-credit-ledger';
import type { OpeningTotals } from '../cdr/cdr-store';

/** Where the CDRs come from: the CDR store (the shards' outboxes) or the JetStream stream — the same CDRs. */
export interface CdrSource {
  /** Every CDR written in [from, to] (epoch ms, by the time the ledger wrote it). */
  all(from?: number, to?: number): AsyncIterable<Cdr>;
  /**
   * Per account, the totals of the CDRs this source no longer holds (the outbox's opening figures, folded in when it
   * was trimmed after CDR_RETENTION_DAYS): the reconciliation starts from them.
   */
  openings?(): Promise<Map<string, OpeningTotals>>;
}

export interface ReportRow {
  subscriber: string;
  service: string;
  currency: string;
  messages: number;
  octets: number;
  held: number;
  debited: number;
  refunded: number;
  released: number;
  expired: number;
  toppedUp: number;
}

export interface Reconciliation {
  subscriber: string;
  currency: string;
  initial: number;
  cdrTopUps: number;
  cdrRefunds: number;
  cdrDebits: number;
  expectedBalance: number;
  balance: number;
  status: 'balanced' | string;
}

export interface BillingReport {
  from?: string;
  to?: string;
  generatedAt: string;
  rows: ReportRow[];
  totals: Record<string, Omit<ReportRow, 'subscriber' | 'service' | 'currency'>>;
  revenuePerDay: { day: string; currency: string; amount: number }[];
  /**
   * Debits less refunds per rating group (`(none)`: priced by the time of day), per currency. A refund counts against
   * the group of the charge it refunds when that charge is in the period, else against `(none)`.
   */
  revenuePerRatingGroup: { ratingGroup: string; currency: string; messages: number; amount: number }[];
  reconciliation: Reconciliation[];
  balanced: boolean;
}

/** The charge a refund CDR refunds (refund-5.lua writes `refundOf`). */
function refundedCdr(c: Cdr): string {
  return String((c as unknown as { refundOf?: string }).refundOf ?? '');
}

const zero = () => ({ messages: 0, octets: 0, held: 0, debited: 0, refunded: 0, released: 0, expired: 0, toppedUp: 0 });

/**
 * `cdrs` gives the period's rows; `life` (default the same) gives each account's whole life for the reconciliation:
 * its opening figures, if it has any, plus every CDR it holds.
 */
export async function buildBillingReport(
  cdrs: CdrSource,
  ledger: RedisCreditLedger,
  from?: number,
  to?: number,
  life: CdrSource = cdrs,
): Promise<BillingReport> {
  const rows = new Map<string, ReportRow>();
  const totals: BillingReport['totals'] = {};
  const perDay = new Map<string, number>();
  const perGroup = new Map<string, { messages: number; amount: number }>();
  /** cdrId → rating group of each charge, so a refund is taken from the group its charge was rated at. */
  const groupOf = new Map<string, string>();
  const row = (c: Cdr) => {
    const service = c.service || '(account)';
    const k = `${c.subscriber}\u0000${service}`;
    let r = rows.get(k);
    if (!r) rows.set(k, (r = { subscriber: c.subscriber, service, currency: c.currency, ...zero() }));
    return r;
  };
  for await (const c of cdrs.all(from, to)) {
    if ((c.type as string) === USAGE_REPORT_TYPE) continue; // moves no money
    const r = row(c);
    const t = (totals[c.currency] ??= zero());
    const add = (f: keyof ReturnType<typeof zero>, v: number) => {
      r[f] += v;
      t[f] += v;
    };
    switch (c.type) {
      case 'debit':
        add('messages', 1);
        add('octets', c.octets ?? 0);
        add('debited', c.amount);
        add('held', c.amount);
        break;
      case 'direct-debit':
        add('messages', Number((c as unknown as { items?: number }).items ?? 1));
        add('octets', c.octets ?? 0);
        add('debited', c.amount);
        break;
      case 'refund':
        add('refunded', c.amount);
        break;
      case 'release':
        add('released', c.amount);
        add('held', c.amount);
        break;
      case 'expire':
        add('expired', c.amount);
        add('held', c.amount);
        break;
      case 'top-up':
        add('toppedUp', c.amount);
        break;
    }
    if (c.type === 'debit' || c.type === 'direct-debit' || c.type === 'refund') {
      const charged = c.type !== 'refund';
      const group = charged ? (c.ratingGroup ?? '(none)') : (groupOf.get(refundedCdr(c)) ?? '(none)');
      if (charged) groupOf.set(c.cdrId, group);
      const g = perGroup.get(`${group}\u0000${c.currency}`) ?? { messages: 0, amount: 0 };
      if (charged) g.messages += c.type === 'debit' ? 1 : Number((c as unknown as { items?: number }).items ?? 1);
      g.amount += charged ? c.amount : -c.amount;
      perGroup.set(`${group}\u0000${c.currency}`, g);
      const day = `${c.timestamp.slice(0, 10)}\u0000${c.currency}`;
      perDay.set(day, (perDay.get(day) ?? 0) + (c.type === 'refund' ? -c.amount : c.amount));
    }
  }
  // reconciliation over each account's whole life: CDR sums against its balance
  const accounts: AccountRecord[] = await ledger.allAccounts();
  const sums = new Map<string, OpeningTotals>();
  for (const [sub, o] of (await life.openings?.()) ?? []) sums.set(sub, { ...o });
  for await (const c of life.all()) {
    const l = sums.get(c.subscriber) ?? { topUps: 0, refunds: 0, debits: 0 };
    if (c.type === 'top-up') l.topUps += c.amount;
    else if (c.type === 'refund') l.refunds += c.amount;
    else if (c.type === 'debit' || c.type === 'direct-debit') l.debits += c.amount;
    sums.set(c.subscriber, l);
  }
  const reconciliation = accounts
    .map((a) => {
      const l = sums.get(a.subscriber) ?? { topUps: 0, refunds: 0, debits: 0 };
      const expected = a.initial + l.topUps + l.refunds - l.debits;
      const diff = a.balance - expected;
      return {
        subscriber: a.subscriber,
        currency: a.currency,
        initial: a.initial,
        cdrTopUps: l.topUps,
        cdrRefunds: l.refunds,
        cdrDebits: l.debits,
        expectedBalance: expected,
        balance: a.balance,
        status: diff === 0 ? 'balanced' : `difference ${diff > 0 ? '+' : ''}${diff} ${a.currency}`,
      };
    })
    .sort((x, y) => x.subscriber.localeCompare(y.subscriber));
  return {
    from: from !== undefined ? new Date(from).toISOString() : undefined,
    to: to !== undefined ? new Date(to).toISOString() : undefined,
    generatedAt: new Date().toISOString(),
    rows: [...rows.values()].sort((a, b) => a.subscriber.localeCompare(b.subscriber) || a.service.localeCompare(b.service)),
    totals,
    revenuePerDay: [...perDay.entries()]
      .map(([k, amount]) => {
        const [day, currency] = k.split('\u0000');
        return { day, currency, amount };
      })
      .sort((a, b) => a.day.localeCompare(b.day)),
    revenuePerRatingGroup: [...perGroup.entries()]
      .map(([k, v]) => {
        const [ratingGroup, currency] = k.split('\u0000');
        return { ratingGroup, currency, ...v };
      })
      .sort((a, b) => a.ratingGroup.localeCompare(b.ratingGroup) || a.currency.localeCompare(b.currency)),
    reconciliation,
    balanced: reconciliation.every((r) => r.status === 'balanced'),
  };
}

const COLS: (keyof ReportRow)[] = ['subscriber', 'service', 'currency', 'messages', 'octets', 'held', 'debited', 'refunded', 'released', 'expired', 'toppedUp'];

function csvCell(v: unknown): string {
  const s = String(v ?? '');
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function reportCsv(r: BillingReport): string {
  const lines = [COLS.join(',')];
  for (const row of r.rows) lines.push(COLS.map((c) => csvCell(row[c])).join(','));
  for (const [cur, t] of Object.entries(r.totals))
    lines.push(['TOTAL', '', cur, t.messages, t.octets, t.held, t.debited, t.refunded, t.released, t.expired, t.toppedUp].map(csvCell).join(','));
  lines.push('');
  lines.push('rating_group,currency,messages,revenue');
  for (const g of r.revenuePerRatingGroup) lines.push([g.ratingGroup, g.currency, g.messages, g.amount].map(csvCell).join(','));
  lines.push('');
  lines.push('reconciliation,subscriber,currency,initial,cdr_top_ups,cdr_refunds,cdr_debits,expected_balance,balance,status');
  for (const x of r.reconciliation)
    lines.push(['reconciliation', x.subscriber, x.currency, x.initial, x.cdrTopUps, x.cdrRefunds, x.cdrDebits, x.expectedBalance, x.balance, x.status].map(csvCell).join(','));
  lines.push(`reconciliation,ALL,,,,,,,,${r.balanced ? 'balanced' : 'NOT balanced'}`);
  return lines.join('\n') + '\n';
}

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const amount = (v: number) => (v / 100).toFixed(2);

/** A self-contained page (no network): tables and an inline SVG bar chart of revenue per day. */
export function reportHtml(r: BillingReport): string {
  const days = r.revenuePerDay;
  const max = Math.max(1, ...days.map((d) => d.amount));
  const w = Math.max(320, days.length * 48 + 40);
  const bars = days
    .map((d, i) => {
      const h = Math.round((d.amount / max) * 160);
      const x = 30 + i * 48;
      return `<rect x="${x}" y="${180 - h}" width="32" height="${h}" fill="#2b6cb0"><title>${esc(d.day)}: ${amount(d.amount)} ${esc(d.currency)}</title></rect><text x="${x + 16}" y="196" font-size="10" text-anchor="middle">${esc(d.day.slice(5))}</text><text x="${x + 16}" y="${176 - h}" font-size="10" text-anchor="middle">${amount(d.amount)}</text>`;
    })
    .join('');
  const tr = (cells: unknown[], tag = 'td') => `<tr>${cells.map((c) => `<${tag}>${esc(c)}</${tag}>`).join('')}</tr>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>IM Charging — billing report</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#1a202c}table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #cbd5e0;padding:4px 8px;text-align:right}td:first-child,th:first-child,td:nth-child(2){text-align:left}th{background:#edf2f7}.ok{color:#276749}.bad{color:#c53030;font-weight:bold}</style></head>
<body><h1>Billing report</h1><p>Period: ${esc(r.from ?? 'beginning')} — ${esc(r.to ?? 'now')} · generated ${esc(r.generatedAt)} · amounts in the account currency (major units)</p>
<h2>Revenue per day</h2><svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="205" role="img" aria-label="revenue per day"><line x1="25" y1="180" x2="${w}" y2="180" stroke="#4a5568"/>${bars}</svg>
<h2>Per subscriber and service</h2><table id="rows">${tr(['subscriber', 'service', 'currency', 'messages', 'octets', 'held', 'debited', 'refunded', 'released', 'expired', 'top-ups'], 'th')}
${r.rows.map((x) => tr([x.subscriber, x.service, x.currency, x.messages, x.octets, amount(x.held), amount(x.debited), amount(x.refunded), amount(x.released), amount(x.expired), amount(x.toppedUp)])).join('\n')}
${Object.entries(r.totals).map(([c, t]) => tr(['TOTAL', '', c, t.messages, t.octets, amount(t.held), amount(t.debited), amount(t.refunded), amount(t.released), amount(t.expired), amount(t.toppedUp)])).join('\n')}</table>
<h2>Revenue per rating group</h2><table id="rating-groups">${tr(['rating group', 'currency', 'messages', 'revenue'], 'th')}
${r.revenuePerRatingGroup.map((g) => tr([g.ratingGroup, g.currency, g.messages, amount(g.amount)])).join('\n')}</table>
<h2>Reconciliation</h2><p id="reconciliation" class="${r.balanced ? 'ok' : 'bad'}">${r.balanced ? 'balanced: every balance equals its opening balance plus top-ups and refunds minus debits, by the CDRs' : 'NOT balanced — see the accounts below'}</p>
<table>${tr(['subscriber', 'currency', 'initial', 'top-ups', 'refunds', 'debits', 'expected', 'balance', 'status'], 'th')}
${r.reconciliation.map((x) => tr([x.subscriber, x.currency, amount(x.initial), amount(x.cdrTopUps), amount(x.cdrRefunds), amount(x.cdrDebits), amount(x.expectedBalance), amount(x.balance), x.status])).join('\n')}</table></body></html>`;
}
