import { MsrpSession, MsrpClock, IncomingMessage } from './msrp-session';
import { MsrpFrame, header } from './msrp-frame';
import { MsrpParser } from './msrp-parser';
import { CountingRandom } from './test-random';

// transaction ids are 4..32 characters (RFC 4975 §9 transact-id), hence the 'xxxx' padding.
/** A fake clock: timers fire only when the test advances time. */
function fakeClock() {
  let now = 0;
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  const clock: MsrpClock = {
    now: () => now,
    setTimer(ms, fn) {
      const t = { at: now + ms, fn, live: true };
      timers.push(t);
      return { cancel: () => (t.live = false) };
    },
  };
  const advance = (ms: number) => {
    now += ms;
    for (const t of timers) if (t.live && t.at <= now) { t.live = false; t.fn(); }
  };
  return { clock, advance };
}

const A = 'msrp://a.example:1/sa;tcp';
const B = 'msrp://b.example:2/sb;tcp';
const enc = (s: string) => new TextEncoder().encode(s);

function receiver(answer?: (m: IncomingMessage) => number | undefined, extra: { sendOnly?: boolean; maxInboundBytes?: number } = {}) {
  const { clock } = fakeClock();
  const s = new MsrpSession({ localPath: B, remotePath: A, clock, random: new CountingRandom(), answer, ...extra });
  const out: MsrpFrame[] = [];
  const p = new MsrpParser();
  s.bind((bytes) => { for (const e of p.push(bytes)) if (e.type === "frame") out.push(e.frame); else throw e.error; });
  const got: IncomingMessage[] = [];
  s.onMessage((m) => got.push(m));
  return { s, out, got };
}

function send(tid: string, id: string, range: string, body: string, flag: '+' | '$' | '#', extra: [string, string][] = []): MsrpFrame {
  return { tid, method: 'SEND', toPath: [B], fromPath: [A], headers: [['Message-ID', id], ['Byte-Range', range], ['Content-Type', 'text/plain'], ...extra], body: enc(body), flag };
}

describe('MSRP session: reassembly and REPORT rules (RFC 4975 §7.1.1, §7.1.2)', () => {
  it('reassembles two messages interleaved on one session, and drops an aborted one (#)', () => {
    const r = receiver();
    r.s.receive(send('t1xxxx', 'm1', '1-3/6', 'abc', '+'));
    r.s.receive(send('t2xxxx', 'm2', '1-2/4', 'wx', '+'));
    r.s.receive(send('t3xxxx', 'm3', '1-2/9', 'zz', '+'));
    r.s.receive(send('t4xxxx', 'm1', '4-6/6', 'def', '$'));
    r.s.receive(send('t5xxxx', 'm3', '3-4/9', 'zz', '#'));
    r.s.receive(send('t6xxxx', 'm2', '3-4/4', 'yz', '$'));
    expect(r.got.map((m) => [m.messageId, new TextDecoder().decode(m.body)])).toEqual([['m1', 'abcdef'], ['m2', 'wxyz']]);
    expect(r.out.map((f) => [f.tid, f.status])).toEqual([['t1xxxx', 200], ['t2xxxx', 200], ['t3xxxx', 200], ['t4xxxx', 200], ['t5xxxx', 200], ['t6xxxx', 200]]);
  });

  it('a send-only session answers 403 to SENDs (but 200 to the empty bind SEND) and keeps nothing', () => {
    const r = receiver(undefined, { sendOnly: true });
    r.s.receive(send('b1xxxx', 'bind', '1-0/0', '', '$'));
    r.s.receive(send('s1xxxx', 'm1', '1-3/6', 'abc', '+'));
    r.s.receive(send('s2xxxx', 'm1', '4-6/6', 'def', '$'));
    expect(r.out.map((f) => [f.tid, f.status])).toEqual([['b1xxxx', 200], ['s1xxxx', 403], ['s2xxxx', 403]]);
    expect(r.got).toHaveLength(0);
  });

  it('caps the bytes of unfinished incoming messages: beyond, 413 and the partial message is dropped', () => {
    const r = receiver(undefined, { maxInboundBytes: 8 });
    r.s.receive(send('c1xxxx', 'big', '1-5/100', 'aaaaa', '+'));
    r.s.receive(send('c2xxxx', 'big', '6-10/100', 'bbbbb', '+')); // 10 > 8
    // the dropped message's bytes are freed: another message still fits
    r.s.receive(send('c3xxxx', 'small', '1-6/6', 'abcdef', '$'));
    expect(r.out.map((f) => [f.tid, f.status])).toEqual([['c1xxxx', 200], ['c2xxxx', 413], ['c3xxxx', 200]]);
    expect(r.got.map((m) => new TextDecoder().decode(m.body))).toEqual(['abcdef']);
  });

  it('reassembles chunks that arrive out of order (the $ chunk first)', () => {
    const r = receiver();
    r.s.receive(send('o1xxxx', 'mo', '5-6/6', 'ef', '$'));
    r.s.receive(send('o2xxxx', 'mo', '1-4/6', 'abcd', '+'));
    expect(r.got.map((m) => new TextDecoder().decode(m.body))).toEqual(['abcdef']);
  });

  it('Failure-Report no: no response; partial: only errors; Success-Report yes: a REPORT with Status 000 200', () => {
    const r = receiver((m) => (m.messageId === 'bad' ? 415 : 200));
    r.s.receive(send('n1xxxx', 'x1', '1-1/1', 'a', '$', [['Failure-Report', 'no']]));
    r.s.receive(send('p1xxxx', 'x2', '1-1/1', 'a', '$', [['Failure-Report', 'partial']]));
    r.s.receive(send('p2xxxx', 'bad', '1-1/1', 'a', '$', [['Failure-Report', 'partial']]));
    r.s.receive(send('s1xxxx', 'x3', '1-1/1', 'a', '$', [['Success-Report', 'yes']]));
    expect(r.out.filter((f) => f.status !== undefined).map((f) => [f.tid, f.status])).toEqual([['p2xxxx', 415], ['s1xxxx', 200]]);
    const report = r.out.find((f) => f.method === 'REPORT');
    expect(report && [header(report, 'Message-ID'), header(report, 'Status'), header(report, 'Byte-Range')]).toEqual(['x3', '000 200 OK', '1-1/1']);
  });

  it('a REPORT is never answered', () => {
    const r = receiver();
    r.s.receive({ tid: 'r1xxxx', method: 'REPORT', toPath: [B], fromPath: [A], headers: [['Message-ID', 'zz'], ['Status', '000 200 OK']], body: new Uint8Array(0), flag: '$' });
    expect(r.out).toEqual([]);
  });

  it('the transaction timeout runs on the injected clock (30 s by default)', async () => {
    const { clock, advance } = fakeClock();
    const s = new MsrpSession({ localPath: A, remotePath: B, clock, random: new CountingRandom() });
    s.bind(() => undefined);
    let outcome: unknown;
    void s.send({ contentType: 'text/plain', body: enc('hi') }).then((o) => (outcome = o));
    await Promise.resolve();
    advance(29_999);
    await new Promise((r) => setImmediate(r));
    expect(outcome).toBeUndefined();
    advance(1);
    await new Promise((r) => setImmediate(r));
    expect(outcome).toEqual({ kind: 'timeout' });
  });
});
