import fc from 'fast-check';
import { MsrpFrame, MsrpParser, serializeFrame, wrapCpim, unwrapCpim, mimePart, buildImdn, parseImdn, parseMsrpOffer, answerSetup, accepts } from './index';

const enc = new TextEncoder();
const dec = new TextDecoder();
// RFC 4975 §7.1 example shape (protocol-notes.md §3), written here
const SEND =
  'MSRP a786hjs2 SEND\r\nTo-Path: msrp://ue.example.com:7777/iau39soe2843z;tcp\r\nFrom-Path: msrp://im.example.net:2855/98cjs9p0;tcp\r\n' +
  'Message-ID: 87652491\r\nByte-Range: 1-9/9\r\nSuccess-Report: no\r\nFailure-Report: yes\r\nContent-Type: text/plain\r\n\r\nHello Bob\r\n-------a786hjs2$\r\n';
const OK = 'MSRP a786hjs2 200 OK\r\nTo-Path: msrp://im.example.net:2855/98cjs9p0;tcp\r\nFrom-Path: msrp://ue.example.com:7777/iau39soe2843z;tcp\r\n-------a786hjs2$\r\n';

function frames(p: MsrpParser, b: Uint8Array): MsrpFrame[] {
  return p.push(b).map((e) => {
    if (e.type === 'error') throw e.error;
    return e.frame;
  });
}

describe('MSRP parser (RFC 4975 §7)', () => {
  it('parses a SEND and a 200 as written', () => {
    const [s, r] = frames(new MsrpParser(), enc.encode(SEND + OK));
    expect(s).toMatchObject({ tid: 'a786hjs2', method: 'SEND', flag: '$', toPath: ['msrp://ue.example.com:7777/iau39soe2843z;tcp'] });
    expect(s.headers).toContainEqual(['Message-ID', '87652491']);
    expect(dec.decode(s.body)).toBe('Hello Bob');
    expect(r).toMatchObject({ tid: 'a786hjs2', status: 200, comment: 'OK', body: new Uint8Array(0) });
  });

  it('gives the same frames fed one byte at a time and at every split point', () => {
    const all = enc.encode(SEND + OK + SEND);
    const p = new MsrpParser();
    const got: MsrpFrame[] = [];
    for (const b of all) got.push(...frames(p, new Uint8Array([b])));
    expect(got.map((f) => f.tid + (f.method ?? f.status))).toEqual(['a786hjs2SEND', 'a786hjs2200', 'a786hjs2SEND']);
    for (let i = 0; i <= all.length; i += 7) {
      const q = new MsrpParser();
      expect([...frames(q, all.subarray(0, i)), ...frames(q, all.subarray(i))]).toHaveLength(3);
    }
  });

  it('a body may contain end-line look-alikes of other transactions and bare CRLFs', () => {
    const body = 'x\r\n-------other$\r\n\r\n-------a786hjs2 not the end\r\ny';
    const f = frames(new MsrpParser(), enc.encode(SEND.replace('Hello Bob', body)))[0];
    expect(dec.decode(f.body)).toBe(body);
  });

  it.each([
    ['a garbage start line', 'HELLO\r\n', 'start-line'],
    ['From-Path before To-Path', 'MSRP abcd1234 SEND\r\nFrom-Path: msrp://a/b;tcp\r\nTo-Path: msrp://c/d;tcp\r\n-------abcd1234$\r\n', 'headers'],
    ['a missing From-Path', 'MSRP abcd1234 SEND\r\nTo-Path: msrp://c/d;tcp\r\n-------abcd1234$\r\n', 'headers'],
    ['an end-line with a foreign tid', 'MSRP abcd1234 SEND\r\nTo-Path: msrp://c/d;tcp\r\nFrom-Path: msrp://a/b;tcp\r\n-------zzzz9999$\r\n', 'headers'],
    ['a header line without a colon', 'MSRP abcd1234 SEND\r\nTo-Path: msrp://c/d;tcp\r\nFrom-Path: msrp://a/b;tcp\r\nnonsense\r\n', 'headers'],
    ['an endless start line', 'MSRP ' + 'x'.repeat(20000), 'start-line'],
  ])('refuses %s, naming the parser state', (_n, text, state) => {
    const ev = new MsrpParser().push(enc.encode(text));
    expect(ev[ev.length - 1]).toMatchObject({ type: 'error' });
    expect((ev[ev.length - 1] as { error: Error }).error.message).toContain(`in ${state}`);
  });

  it('floods: a huge header line is refused; 10,000 tiny chunked frames parse without growth', () => {
    const big = new MsrpParser({ maxLineBytes: 4096 });
    const ev = big.push(enc.encode(`MSRP abcd1234 SEND\r\nTo-Path: msrp://a/b;tcp\r\nFrom-Path: msrp://c/d;tcp\r\nX-Big: ${'a'.repeat(10000)}`));
    expect(ev[ev.length - 1]).toMatchObject({ type: 'error' });
    const p = new MsrpParser();
    let frames = 0;
    for (let i = 0; i < 10000; i++) {
      const tid = `t${i.toString(36).padStart(6, '0')}`;
      const chunk = `MSRP ${tid} SEND\r\nTo-Path: msrp://a/b;tcp\r\nFrom-Path: msrp://c/d;tcp\r\nMessage-ID: m\r\nByte-Range: ${i + 1}-${i + 1}/10000\r\nContent-Type: text/plain\r\n\r\nx\r\n-------${tid}${i === 9999 ? '$' : '+'}\r\n`;
      frames += p.push(enc.encode(chunk)).filter((e) => e.type === 'frame').length;
    }
    expect(frames).toBe(10000);
  });

  it('caps a body that never ends', () => {
    const p = new MsrpParser({ maxChunkBytes: 1000 });
    const ev = p.push(enc.encode(SEND.replace('Hello Bob\r\n-------a786hjs2$\r\n', 'z'.repeat(5000))));
    expect(ev).toEqual([expect.objectContaining({ type: 'error' })]);
    expect(p.failed).toBe(true);
  });

  it('serialize ∘ parse round-trips (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9]{4,20}$/), fc.uint8Array({ maxLength: 300 }), fc.constantFrom('$', '+', '#'), (tid, body, flag) => {
        const f: MsrpFrame = {
          tid,
          method: 'SEND',
          toPath: ['msrp://a.example:1/s1;tcp'],
          fromPath: ['msrp://b.example:2/s2;tcp'],
          headers: [['Message-ID', 'm1'], ['Content-Type', 'application/octet-stream']],
          body,
          flag: flag as '$',
        };
        // the sender must pick a tid whose end-line does not occur in the body (§7.1)
        if (dec.decode(body).includes(`-------${tid}`)) return true;
        const back = frames(new MsrpParser(), serializeFrame(f));
        return back.length === 1 && back[0].tid === tid && back[0].flag === flag && Buffer.compare(back[0].body, body) === 0;
      }),
    );
  });

  it('random bytes never throw out of the parser (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 500 }), (b) => Array.isArray(new MsrpParser().push(b))), { numRuns: 2000 });
  });

  it('shows the header section of a frame whose body is still coming, from the blank line on, and never a bodiless one', () => {
    const p = new MsrpParser();
    const all = enc.encode(SEND);
    const blank = SEND.indexOf('\r\n\r\n') + 4;
    for (let i = 0; i < all.length; i++) {
      frames(p, all.subarray(i, i + 1));
      if (i + 1 < blank || i + 1 === all.length) expect(p.pendingHeaders).toBeUndefined();
      else expect(p.pendingHeaders).toMatchObject({ tid: 'a786hjs2', method: 'SEND', fromPath: ['msrp://im.example.net:2855/98cjs9p0;tcp'], body: new Uint8Array(0) });
    }
    expect(p.bufferedBytes).toBe(0);
    for (const b of enc.encode(OK)) {
      frames(p, new Uint8Array([b]));
      expect(p.pendingHeaders).toBeUndefined();
    }
  });
});

describe('CPIM, IMDN, SDP', () => {
  it('CPIM keeps the stored MIME part byte for byte', () => {
    const inner = mimePart('text/plain;charset=UTF-8', enc.encode('Grüße\r\n\r\nsecond paragraph'));
    const w = wrapCpim({ from: 'sip:alice@example.com', to: 'sip:bob@example.com', dateTime: '2026-11-23T10:00:00Z', imdnMessageId: 'Hr1B', dispositionNotification: 'positive-delivery' }, inner);
    const u = unwrapCpim(w)!;
    expect(Buffer.compare(u.inner, inner)).toBe(0);
    expect(u).toMatchObject({ from: 'sip:alice@example.com', to: 'sip:bob@example.com', imdnMessageId: 'Hr1B', contentType: 'text/plain;charset=UTF-8' });
    expect(dec.decode(u.body)).toBe('Grüße\r\n\r\nsecond paragraph');
    expect(dec.decode(w)).toContain('NS: imdn <urn:ietf:params:imdn>\r\n');
  });

  it('IMDN delivered round-trips', () => {
    expect(parseImdn(buildImdn({ messageId: 'Hr1B', dateTime: '2026-11-23T10:00:01Z', status: 'delivered' }))).toEqual({
      messageId: 'Hr1B',
      dateTime: '2026-11-23T10:00:01Z',
      status: 'delivered',
      recipient: undefined,
    });
  });

  it('SDP: usable offers, refusals with reasons, setup negotiation (RFC 6135)', () => {
    const offer = 'v=0\r\nc=IN IP4 192.0.2.5\r\nm=message 7777 TCP/MSRP *\r\na=path:msrp://192.0.2.5:7777/abc;tcp\r\na=accept-types:message/cpim text/plain\r\na=setup:actpass\r\n';
    const r = parseMsrpOffer(offer);
    expect(r).toMatchObject({ ok: true, media: { port: 7777, setup: 'actpass', path: ['msrp://192.0.2.5:7777/abc;tcp'] } });
    expect(parseMsrpOffer('v=0\r\nm=audio 4000 RTP/AVP 0\r\n')).toEqual({ ok: false, reason: 'no m=message MSRP media line' });
    expect(parseMsrpOffer('v=0\r\nm=message 1 UDP/BFCP *\r\n').ok).toBe(false);
    expect(parseMsrpOffer('v=0\r\nm=message 1 TCP/MSRP *\r\na=accept-types:*\r\n')).toEqual({ ok: false, reason: 'MSRP media without a=path' });
    expect([answerSetup('actpass'), answerSetup('passive'), answerSetup('active')]).toEqual(['active', 'active', 'passive']);
    expect(accepts(['text/*'], 'text/plain')).toBe(true);
    expect(accepts(['message/cpim'], 'text/plain')).toBe(false);
  });
});
