/**
 * bench:parsers — protocol core throughput: SIP INVITEs parsed per second (whole messages and through the TCP
 * stream framer) and MSRP parsing in MiB/s (2 KiB chunks and one 1 MiB chunk). Single thread, in process.
 */
import { parseSipMessage, SipStreamFramer } from '@imc/sip';
import { MsrpParser, serializeFrame } from '@imc/msrp';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryWatch } from './memory';

const memory = new MemoryWatch().trackSelf('bench process (parsers in process)');
memory.start();

const enc = new TextEncoder();
const sdp = 'v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=message 7777 TCP/MSRP *\r\na=path:msrp://192.0.2.5:7777/abc;tcp\r\na=accept-types:message/cpim\r\na=setup:actpass\r\n';
const invite = enc.encode(
  `INVITE sip:deferred@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.5:5060;branch=z9hG4bK776asdhds;rport\r\nMax-Forwards: 70\r\nFrom: "Bob" <sip:bob@example.com>;tag=1928301774\r\nTo: <sip:deferred@example.com>\r\nCall-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 314159 INVITE\r\nContact: <sip:bob@192.0.2.5:5060;transport=tcp>\r\nAuthorization: Digest username="bob", realm="example.com", nonce="abc.def.0123456789", uri="sip:deferred@example.com", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"\r\nContent-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`,
);

function time(what: string, unit: string, n: number, perOp: number, f: () => void): { what: string; value: number; unit: string } {
  for (let i = 0; i < Math.min(n, 2000); i++) f(); // warm-up
  const t = performance.now();
  for (let i = 0; i < n; i++) f();
  const secs = (performance.now() - t) / 1000;
  return { what, value: Math.round((n * perOp) / secs), unit };
}

const rows = [
  time('SIP INVITE parse (with headers accessed)', 'INVITEs/s', 100000, 1, () => {
    const r = parseSipMessage(invite);
    if (!r.ok || r.message.cseq.seq !== 314159 || !r.message.topVia?.branch) throw new Error('parse');
  }),
  (() => {
    const stream = new Uint8Array(invite.length * 100);
    for (let i = 0; i < 100; i++) stream.set(invite, i * invite.length);
    const f = new SipStreamFramer();
    return time('SIP TCP framer (100 INVITEs per 1.4 KiB-chunked read)', 'INVITEs/s', 2000, 100, () => {
      let n = 0;
      for (let o = 0; o < stream.length; o += 1460) n += f.push(stream.subarray(o, o + 1460)).length;
      if (n === 0 && stream.length > 0) return;
    });
  })(),
  (() => {
    const body = new Uint8Array(2048).fill(120);
    const frame = serializeFrame({ tid: 'abcd1234', method: 'SEND', toPath: ['msrp://a/b;tcp'], fromPath: ['msrp://c/d;tcp'], headers: [['Message-ID', 'm'], ['Byte-Range', '1-2048/2048'], ['Content-Type', 'text/plain']], body, flag: '$' });
    const p = new MsrpParser();
    const r = time('MSRP parse, 2 KiB chunks', 'MiB/s', 50000, frame.length / (1024 * 1024), () => p.push(frame));
    r.value = Math.round(r.value);
    return r;
  })(),
  (() => {
    const body = new Uint8Array(1024 * 1024).fill(120);
    const frame = serializeFrame({ tid: 'abcd1234', method: 'SEND', toPath: ['msrp://a/b;tcp'], fromPath: ['msrp://c/d;tcp'], headers: [['Message-ID', 'm'], ['Content-Type', 'text/plain']], body, flag: '$' });
    const p = new MsrpParser();
    return time('MSRP parse, one 1 MiB chunk fed in 64 KiB reads', 'MiB/s', 100, frame.length / (1024 * 1024), () => {
      for (let o = 0; o < frame.length; o += 65536) p.push(frame.subarray(o, o + 65536));
    });
  })(),
];
console.log('\nbench:parsers — one thread, in process\n');
console.log('| what | figure |');
console.log('|---|---:|');
for (const r of rows) console.log(`| ${r.what} | ${r.value.toLocaleString('en')} ${r.unit} |`);

void memory.end().then(() => {
  memory.print('bench:parsers');
  const root = join(__dirname, '..', '..', '..');
  mkdirSync(join(root, 'bench-results'), { recursive: true });
  writeFileSync(join(root, 'bench-results', 'parsers.json'), JSON.stringify({ date: new Date().toISOString(), rows, memory: memory.rows }, null, 2));
});
