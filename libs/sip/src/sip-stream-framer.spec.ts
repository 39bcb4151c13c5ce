import { SipStreamFramer, FramerEvent } from './sip-stream-framer';

const enc = new TextEncoder();
const msg = (body: string, id = 1) =>
  `MESSAGE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK${id}\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c${id}\r\nCSeq: ${id} MESSAGE\r\nContent-Length: ${enc.encode(body).length}\r\n\r\n${body}`;

function messages(events: FramerEvent[]): string[] {
  return events.filter((e) => e.type === 'message').map((e) => new TextDecoder().decode((e as { bytes: Uint8Array }).bytes));
}

describe('SIP stream framer (RFC 3261 §18.3)', () => {
  const stream = `\r\n\r\n${msg('hello', 1)}${msg('', 2)}\r\n${msg('ünïcödé body', 3)}`;
  const bytes = enc.encode(stream);

  it('frames three messages and a keep-alive ping from one chunk', () => {
    const ev = new SipStreamFramer().push(bytes);
    expect(messages(ev)).toEqual([msg('hello', 1), msg('', 2), msg('ünïcödé body', 3)]);
    expect(ev.filter((e) => e.type === 'ping')).toHaveLength(1);
  });

  it('gives the same messages when fed one byte at a time', () => {
    const f = new SipStreamFramer();
    const ev: FramerEvent[] = [];
    for (const b of bytes) ev.push(...f.push(new Uint8Array([b])));
    expect(messages(ev)).toEqual([msg('hello', 1), msg('', 2), msg('ünïcödé body', 3)]);
  });

  it('gives the same messages at every split point', () => {
    for (let i = 0; i <= bytes.length; i++) {
      const f = new SipStreamFramer();
      const ev = [...f.push(bytes.subarray(0, i)), ...f.push(bytes.subarray(i))];
      expect(messages(ev)).toHaveLength(3);
    }
  });

  it('a flood of 20,000 CRLF keep-alives uses no memory and yields pings', () => {
    const f = new SipStreamFramer();
    const ev = f.push(enc.encode('\r\n'.repeat(20000)));
    expect(ev.every((e) => e.type === 'ping')).toBe(true);
    expect(ev).toHaveLength(10000);
    expect(messages(f.push(enc.encode(msg('after'))))).toEqual([msg('after')]);
  });

  it.each([
    ['a header block with no Content-Length', 'OPTIONS sip:x SIP/2.0\r\nVia: x\r\n\r\n', 400, 'Missing Content-Length Header'],
    ['an absurd Content-Length', 'OPTIONS sip:x SIP/2.0\r\nContent-Length: 99999999999\r\n\r\n', 400, 'Invalid Content-Length'],
    ['a Content-Length over the body limit', 'OPTIONS sip:x SIP/2.0\r\nContent-Length: 5000000\r\n\r\n', 513, 'Message Too Large'],
    ['an endless header block', `OPTIONS sip:x SIP/2.0\r\nX: ${'a'.repeat(70000)}`, 513, 'Message Too Large'],
  ])('%s is fatal for the connection', (_what, text, status, reason) => {
    const f = new SipStreamFramer();
    expect(f.push(enc.encode(text))).toEqual([{ type: 'error', status, reason }]);
    expect(f.failed).toBe(true);
    expect(f.push(enc.encode(msg('x')))).toEqual([]);
  });

  it.each([
    ['an HTTP request', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['binary bytes, with no line end at all', '\x00\xff\x16\x03\x01'],
    ['a TLS ClientHello on the plain port', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'],
    ['a start line that never ends', `OPTIONS sip:${'a'.repeat(9000)}`],
    ['a bare LF line end', 'OPTIONS sip:x SIP/2.0\nVia: x\n\n'],
  ])('bytes that are not SIP (%s) are refused at their first line (§7.1)', (_what, text) => {
    const f = new SipStreamFramer();
    expect(f.push(Uint8Array.from(text, (c) => c.charCodeAt(0)))).toEqual([{ type: 'error', status: 400, reason: 'Malformed Start Line' }]);
  });

  it('refuses non-SIP bytes fed one at a time as soon as they show it, and says when a message is half-received', () => {
    const f = new SipStreamFramer();
    expect(f.partial).toBe(false);
    expect(f.push(enc.encode('G'))).toEqual([]);
    expect(f.partial).toBe(true);
    expect(f.push(enc.encode('E'))).toEqual([]);
    expect(f.push(enc.encode('T /'))).toEqual([]);
    expect(f.push(enc.encode(' HTTP/1.1\r'))).toEqual([]);
    expect(f.push(enc.encode('\n'))).toEqual([{ type: 'error', status: 400, reason: 'Malformed Start Line' }]);
    const g = new SipStreamFramer();
    expect(g.push(enc.encode('<'))).toEqual([{ type: 'error', status: 400, reason: 'Malformed Start Line' }]);
  });

  it('a request line with extra spaces or another version still frames (the parser answers it)', () => {
    for (const line of ['OPTIONS  sip:x@h  SIP/2.0', 'OPTIONS sip:x@h SIP/7.0', 'SIP/2.0 200 OK']) {
      const f = new SipStreamFramer();
      const ev = f.push(enc.encode(`${line}\r\nVia: x\r\nContent-Length: 0\r\n\r\n`));
      expect(ev.map((e) => e.type)).toEqual(['message']);
      expect(f.partial).toBe(false);
    }
  });
});
