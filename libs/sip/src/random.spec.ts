import { createResponse, Dialog, parseSipMessage, randomString, randomToken, randomUint31, SipRequest, webCryptoRandom, BRANCH_BITS, RandomSource } from './index';
import { SeededRandom } from './test-random';

const invite = (): SipRequest => {
  const raw =
    'INVITE sip:deferred@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc\r\nMax-Forwards: 70\r\n' +
    'From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:deferred@example.com>\r\nCall-ID: c1@10.0.0.1\r\nCSeq: 1 INVITE\r\n' +
    'Contact: <sip:alice@10.0.0.1:5060>\r\nContent-Length: 0\r\n\r\n';
  const r = parseSipMessage(new TextEncoder().encode(raw));
  if (!r.ok || !(r.message instanceof SipRequest)) throw new Error('fixture');
  return r.message;
};

/** A source that records every byte it hands out. */
class Recording implements RandomSource {
  calls: number[] = [];
  constructor(private readonly inner: RandomSource) {}
  bytes(n: number): Uint8Array {
    this.calls.push(n);
    return this.inner.bytes(n);
  }
}

describe('random identifiers (RFC 3261 §19.3, §8.1.1.4)', () => {
  it.each([32, 64, 80, 96, 128])('a %i-bit token has enough [a-z0-9] characters for its bits', (bits) => {
    const t = randomToken(webCryptoRandom, bits);
    expect(t).toMatch(/^[a-z0-9]+$/);
    expect(t.length * Math.log2(36)).toBeGreaterThanOrEqual(bits);
    expect((t.length - 1) * Math.log2(36)).toBeLessThan(bits);
  });

  it('comes from the injected source: the same seed gives the same token, another seed another', () => {
    expect(randomToken(new SeededRandom(7))).toBe(randomToken(new SeededRandom(7)));
    expect(randomToken(new SeededRandom(7))).not.toBe(randomToken(new SeededRandom(8)));
    const src = new SeededRandom(3);
    randomToken(src, 80);
    expect(src.drawn).toBeGreaterThanOrEqual(16);
  });

  it('is uniform over the alphabet (rejection sampling, no modulo bias)', () => {
    // bytes 252..255 would bias a modulo-36 draw towards its first four characters; they must be skipped
    const biased: RandomSource = { bytes: (n) => new Uint8Array(n).fill(252) };
    let calls = 0;
    const mixed: RandomSource = { bytes: (n) => (++calls === 1 ? biased.bytes(n) : Uint8Array.from({ length: n }, (_, i) => i % 36)) };
    expect(randomString(mixed, 35 * Math.log2(36) + 1)).toBe('abcdefghijklmnopqrstuvwxyz0123456789');
    const counts = new Map<string, number>();
    for (const c of randomString(webCryptoRandom, 36000 * Math.log2(36))) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(36);
    for (const n of counts.values()) expect(Math.abs(n - 1000)).toBeLessThan(200); // > 6 σ
  });

  it('randomUint31 stays below 2^31', () => {
    const all = new SeededRandom(1);
    for (let i = 0; i < 1000; i++) expect(randomUint31(all)).toBeLessThan(2 ** 31);
    expect(randomUint31({ bytes: () => new Uint8Array([255, 255, 255, 255]) })).toBe(2 ** 31 - 1);
  });

  it('createResponse draws the To tag from the source it is given', () => {
    const a = createResponse(invite(), 486, undefined, { random: new SeededRandom(42) });
    const b = createResponse(invite(), 486, undefined, { random: new SeededRandom(42) });
    const tag = /;tag=([a-z0-9]+)/.exec(a.get('to') ?? '')?.[1];
    expect(tag).toBe(/;tag=([a-z0-9]+)/.exec(b.get('to') ?? '')?.[1]);
    expect(tag).toBe(randomToken(new SeededRandom(42)));
    expect(createResponse(invite(), 100, undefined, { random: new SeededRandom(42) }).get('to')).not.toMatch(/tag=/);
  });

  it("a dialog's requests take their branch from the dialog's source", () => {
    const src = new Recording(new SeededRandom(9));
    const d = Dialog.fromInvite(invite(), 'local1', src)!;
    const before = src.calls.length;
    const bye = d.createRequest('BYE', { transport: 'UDP', host: '10.0.0.2', port: 5060 });
    expect(src.calls.length).toBeGreaterThan(before);
    const branch = bye.topVia?.branch ?? '';
    expect(branch).toMatch(/^z9hG4bK[a-z0-9]+$/);
    expect((branch.length - 7) * Math.log2(36)).toBeGreaterThanOrEqual(BRANCH_BITS);
    // same seed → same first CSeq and branch: nothing came from anywhere else
    const d2 = Dialog.fromInvite(invite(), 'local1', new SeededRandom(9))!;
    const bye2 = d2.createRequest('BYE', { transport: 'UDP', host: '10.0.0.2', port: 5060 });
    expect(bye2.topVia?.branch).toBe(branch);
    expect(bye2.get('cseq')).toBe(bye.get('cseq'));
  });

  it('no Math.random in the SIP core', () => {
    const spy = jest.spyOn(Math, 'random');
    try {
      createResponse(invite(), 200, 'OK');
      Dialog.fromInvite(invite(), 't', webCryptoRandom)!.createRequest('BYE', { transport: 'TCP', host: 'h', port: 1 });
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});
