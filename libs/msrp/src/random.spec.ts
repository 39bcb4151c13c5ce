import { MSRP_ID_ALPHABET, MsrpRandom, newSessionId, randomId } from './random';
import { MsrpSession } from './msrp-session';
import { MsrpParser } from './msrp-parser';
import { MsrpFrame, header } from './msrp-frame';
import { CountingRandom } from './test-random';

const cryptoRandom: MsrpRandom = { bytes: (n) => globalThis.crypto.getRandomValues(new Uint8Array(n)) };
const clock = { now: () => 0, setTimer: () => ({ cancel: () => undefined }) };

describe('MSRP identifiers come from the injected random source (RFC 4975 §14.1)', () => {
  it('a session-id has at least 80 random bits, letters and digits only', () => {
    const id = newSessionId(cryptoRandom);
    expect(id).toMatch(/^[A-Za-z0-9]+$/);
    expect(id.length * Math.log2(62)).toBeGreaterThanOrEqual(80);
    expect(id.length * Math.log2(62)).toBeGreaterThanOrEqual(128);
    expect(new Set(Array.from({ length: 1000 }, () => newSessionId(cryptoRandom))).size).toBe(1000);
  });

  it('is drawn from the source: a known stream gives a known id', () => {
    // bytes 0,1,2,… map to the alphabet in order
    expect(newSessionId(new CountingRandom())).toBe(MSRP_ID_ALPHABET.slice(0, 22));
    expect(newSessionId(new CountingRandom(10))).toBe(MSRP_ID_ALPHABET.slice(10, 32));
  });

  it('skips bytes that would bias the draw (248–255)', () => {
    expect(randomId(new CountingRandom(248), 6 * Math.log2(62))).toBe(MSRP_ID_ALPHABET.slice(0, 6));
  });

  it("a session's transaction ids and Message-IDs come from its source, 4–32 characters", async () => {
    const random = new CountingRandom(100);
    const s = new MsrpSession({ localPath: 'msrp://a.example:1/sa;tcp', remotePath: 'msrp://b.example:2/sb;tcp', clock, random });
    const frames: MsrpFrame[] = [];
    const p = new MsrpParser();
    s.bind((b) => {
      for (const e of p.push(b)) if (e.type === 'frame') frames.push(e.frame);
    });
    void s.sendBind();
    void s.send({ contentType: 'text/plain', body: new TextEncoder().encode('hi') });
    expect(frames).toHaveLength(2);
    // replay the same stream: the ids are exactly the draws, in order
    const again = new CountingRandom(100);
    const tid1 = randomId(again, 59); // sendBind: its tid, then its Message-ID
    const mid1 = randomId(again, 80);
    const mid2 = randomId(again, 80); // send: the Message-ID, then one tid per chunk
    const tid2 = randomId(again, 59);
    expect(frames.map((f) => f.tid)).toEqual([tid1, tid2]);
    expect(frames.map((f) => header(f, 'Message-ID'))).toEqual([mid1, mid2]);
    for (const f of frames) expect(f.tid).toMatch(/^[A-Za-z0-9]{4,32}$/);
    s.close();
  });

  it('a session without a session-id in its path draws one from its source', () => {
    const s = new MsrpSession({ localPath: 'msrp://a.example:1', remotePath: 'msrp://b.example:2/sb;tcp', clock, random: new CountingRandom(5) });
    expect(s.id).toBe(MSRP_ID_ALPHABET.slice(5, 27));
  });

  it('no Math.random anywhere in a session', async () => {
    const spy = jest.spyOn(Math, 'random');
    try {
      const s = new MsrpSession({ localPath: 'msrp://a.example:1/sa;tcp', remotePath: 'msrp://b.example:2/sb;tcp', clock, random: cryptoRandom });
      s.bind(() => undefined);
      void s.sendBind();
      void s.send({ contentType: 'text/plain', body: new Uint8Array(5000) });
      s.close();
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});
