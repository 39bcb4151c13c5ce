/**
 * RFC 4475 §3, every torture message as a golden fixture (test-fixtures/rfc4475/README.md): each is parsed as the
 * datagram it was written as, and the verdict is checked against the one recorded beside it — parsed, or refused
 * with that status and reason, answerable or dropped by the same rule the server applies (a request, not an ACK,
 * with a Via to answer along).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSipMessage } from './sip-parser';
import { SipRequest } from './sip-message';

const DIR = join(__dirname, '..', 'test-fixtures', 'rfc4475');

interface Verdict {
  section: string;
  title: string;
  rfc: string;
  expect: { ok: true } | { ok: false; status: number; reason: string; answered: boolean };
  deviation?: string;
}

const cases = readdirSync(DIR)
  .filter((f) => f.endsWith('.sip'))
  .map((f) => ({ name: f.slice(0, -4), bytes: readFileSync(join(DIR, f)), verdict: JSON.parse(readFileSync(join(DIR, f.replace(/\.sip$/, '.json')), 'utf8')) as Verdict }))
  .sort((a, b) => a.verdict.section.localeCompare(b.verdict.section, 'en', { numeric: true }));

describe('RFC 4475 §3 torture messages', () => {
  it('holds all 49 messages of §3, each with a verdict', () => {
    expect(cases).toHaveLength(49);
    for (const c of cases) expect(c.verdict.rfc.length).toBeGreaterThan(0);
  });

  it.each(cases.map((c) => [`§${c.verdict.section} ${c.name} (${c.verdict.title})`, c] as const))('%s', (_label, c) => {
    const r = parseSipMessage(c.bytes, { datagram: true });
    const want = c.verdict.expect;
    if (want.ok) {
      if (!r.ok) throw new Error(`refused with ${r.status} ${r.reason}`);
      return;
    }
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const p = r.partial;
    const answered = !!p && p instanceof SipRequest && p.method !== 'ACK' && !!p.topVia;
    expect({ status: r.status, reason: r.reason, answered }).toEqual({ status: want.status, reason: want.reason, answered: want.answered });
  });

});
