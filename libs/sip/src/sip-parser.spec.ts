import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseSipMessage, parseUri, SipRequest, SipResponse, serializeSipMessage } from './index';

const FIXTURES = join(__dirname, '..', 'test-fixtures');
const bytes = (s: string) => new TextEncoder().encode(s);

function summary(m: SipRequest | SipResponse) {
  const out: Record<string, unknown> = {};
  if (m instanceof SipRequest) {
    out.method = m.method;
    out.uri = m.uri;
  } else {
    out.status = m.status;
    out.reason = m.reason;
  }
  out.callId = m.callId;
  out.cseq = m.cseq;
  if (m.from?.params.tag) out.fromTag = m.from.params.tag;
  out.fromUri = m.from?.uriText;
  if (m.to?.params.tag) out.toTag = m.to.params.tag;
  out.toUri = m.to?.uriText;
  out.vias = m.vias.map((v) => ({ transport: v.transport, host: v.host, ...(v.port ? { port: v.port } : {}), branch: v.branch }));
  out.contacts = m.contacts.map((c) => c.uriText);
  if (m.get('max-forwards')) out.maxForwards = m.get('max-forwards');
  if (m.contentType) out.contentType = m.contentType;
  if (m.body.length) out.body = m.bodyText();
  out.bodyLength = m.body.length;
  return out;
}

describe('SIP parser: golden fixtures', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.sip'));
  for (const f of files.filter((x) => x.startsWith('valid-'))) {
    it(`parses ${f} as recorded beside it`, () => {
      const r = parseSipMessage(readFileSync(join(FIXTURES, f)), { datagram: true });
      if (!r.ok) throw new Error(`${r.status} ${r.reason}`);
      expect(summary(r.message)).toEqual(JSON.parse(readFileSync(join(FIXTURES, f.replace(/\.sip$/, '.json')), 'utf8')));
    });
  }
  for (const f of files.filter((x) => x.startsWith('invalid-'))) {
    it(`refuses ${f} with the response recorded beside it`, () => {
      const r = parseSipMessage(readFileSync(join(FIXTURES, f)), { datagram: true });
      const want = JSON.parse(readFileSync(join(FIXTURES, f.replace(/\.sip$/, '.json')), 'utf8'));
      expect(r.ok).toBe(false);
      if (!r.ok) expect({ status: r.status, reason: r.reason }).toEqual(want);
    });
  }
});

describe('SIP parser: rules', () => {
  const base = 'OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:x@example.com>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n';

  it('UDP: no Content-Length means the body runs to the end of the datagram; extra bytes are discarded (§18.3)', () => {
    const r = parseSipMessage(bytes(`${base}\r\nabc`), { datagram: true });
    expect(r.ok && r.message.bodyText()).toBe('abc');
    const r2 = parseSipMessage(bytes(`${base}Content-Length: 2\r\n\r\nabcdef`), { datagram: true });
    expect(r2.ok && r2.message.bodyText()).toBe('ab');
  });

  it('stream-cut messages need Content-Length when they carry a body', () => {
    const r = parseSipMessage(bytes(`${base}\r\nabc`));
    expect(r).toMatchObject({ ok: false, status: 400, reason: 'Missing Content-Length Header' });
  });

  it('keeps what it parsed so the 400 can be addressed', () => {
    const r = parseSipMessage(bytes(`${base.replace('Call-ID: c\r\n', '')}\r\n`), { datagram: true });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.partial?.topVia?.branch).toBe('z9hG4bK1');
  });

  it.each(['SIP:x@example.com', 'Sip:x@EXAMPLE.com', 'SIPS:x@example.com'])('a Request-URI scheme in any case is a SIP URI (§19.1.4, RFC 3986 §3.1): %s', (uri) => {
    const r = parseSipMessage(bytes(`${base.replace('OPTIONS sip:x@example.com', `OPTIONS ${uri}`)}\r\n`), { datagram: true });
    if (!r.ok) throw new Error(`${r.status} ${r.reason}`);
    expect(r.message instanceof SipRequest && parseUri(r.message.uri)).toMatchObject({ scheme: uri.slice(0, uri.indexOf(':')).toLowerCase(), user: 'x', host: 'example.com' });
  });

  it.each([
    ['From', base.replace('From: <sip:a@example.com>;tag=1', 'From: "Alice <sip:a@example.com>;tag=1')],
    ['To', base.replace('To: <sip:x@example.com>', 'To: "Bob \\" <sip:x@example.com>')],
    ['Contact', `${base}Contact: "x <sip:c@h>\r\n`],
    ['Via', base.replace('branch=z9hG4bK1', 'branch=z9hG4bK1;x="open')],
  ])('an unterminated quoted string in %s is refused with a 400 naming it (§25.1 quoted-string)', (name, text) => {
    const r = parseSipMessage(bytes(`${text}\r\n`), { datagram: true });
    expect(r).toMatchObject({ ok: false, status: 400, reason: `Unterminated Quoted String In ${name} Header` });
  });

  it('a closed quote with escaped quotes and backslashes inside is fine; unknown headers are opaque text', () => {
    const r = parseSipMessage(bytes(`${base.replace('From: <sip', 'From: "A \\\\ \\"q\\"" <sip')}Subject: 5" floppy\r\n\r\n`), { datagram: true });
    if (!r.ok) throw new Error(`${r.status} ${r.reason}`);
    expect(r.message.from?.displayName).toBe('A \\ "q"');
  });

  it('a start line that looks like a request but is malformed is refused, yet answerable', () => {
    const r = parseSipMessage(bytes(`${base.replace('OPTIONS sip:x@example.com SIP/2.0', 'OPTIONS  sip:x@example.com  SIP/2.0')}\r\n`), { datagram: true });
    expect(r).toMatchObject({ ok: false, status: 400, reason: 'Malformed Start Line' });
    if (!r.ok) expect(r.partial?.topVia?.branch).toBe('z9hG4bK1');
    const g = parseSipMessage(bytes('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), { datagram: true });
    expect(g).toMatchObject({ ok: false, status: 400, reason: 'Malformed Start Line', partial: undefined });
  });

  it('oversized header blocks get 513', () => {
    const r = parseSipMessage(bytes(`${base}X-Big: ${'a'.repeat(70000)}\r\n\r\n`), { datagram: true });
    expect(r).toMatchObject({ ok: false, status: 513 });
  });

  it('serialize ∘ parse is the identity on the parsed fields (property)', () => {
    const token = fc.stringMatching(/^[a-z0-9]{1,12}$/);
    fc.assert(
      fc.property(token, token, fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.string({ maxLength: 200 }), (user, tag, seq, body) => {
        const text = `MESSAGE sip:${user}@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h:5060;branch=z9hG4bK${tag}\r\nFrom: <sip:${user}@example.com>;tag=${tag}\r\nTo: <sip:b@example.com>\r\nCall-ID: ${tag}@h\r\nCSeq: ${seq} MESSAGE\r\nContent-Type: text/plain\r\n`;
        const b = new TextEncoder().encode(body);
        const first = parseSipMessage(bytes(`${text}Content-Length: ${b.length}\r\n\r\n${body}`));
        if (!first.ok) return false;
        const again = parseSipMessage(serializeSipMessage(first.message));
        return again.ok && JSON.stringify(summary(again.message)) === JSON.stringify(summary(first.message));
      }),
    );
  });

  it('random bytes never throw out of the parser (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (b, datagram) => {
        const r = parseSipMessage(b, { datagram });
        return typeof r.ok === 'boolean';
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const r = parseSipMessage(bytes(`${base}${s}\r\n\r\n`), { datagram: true });
        return typeof r.ok === 'boolean';
      }),
      { numRuns: 2000 },
    );
  });
});
