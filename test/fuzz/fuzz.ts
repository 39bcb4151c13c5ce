/**
 * npm run fuzz — mutated SIP requests over UDP and TCP and mutated MSRP frames on live retrieval sessions, against an
 * im-server and a Charging Enabler each in its own process (the machine's Redis and NATS, isolated by a key and
 * subject prefix). Seeded and reproducible (FUZZ_SEED), bounded in time (FUZZ_MAX_SECONDS). Prints inputs/s,
 * crashes (must be 0), answers by class (2xx/4xx/5xx/none), and the im-server's RSS (and V8 heap, from /metrics)
 * before, at its peak and after. Exits 1 on a crash or when the server stops answering. Not a test: not in npm test.
 *
 *   FUZZ_SEED (default 1)  FUZZ_SIP_UDP (150000)  FUZZ_SIP_TCP (60000)  FUZZ_MSRP (22000)  FUZZ_MAX_SECONDS (900)
 */
import { spawn, ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, Socket } from 'node:net';
import { join } from 'node:path';
import { connect as natsConnect, NatsConnection } from 'nats';
import { parseDigest, parseSipMessage, SipResponse, SipStreamFramer } from '@imc/sip';
import { MsrpConnection, MsrpSession } from '@imc/msrp';
import { nodeMsrpClock, nodeRandom } from '@imc/msrp-node';
import { ensureLocalInfra, freePort } from '@imc/runtime';
import { rssMiB, waitHttp } from '../support/process-probes';

const ROOT = join(__dirname, '..', '..', '..');
const SEED = Number(process.env.FUZZ_SEED ?? 1);
const N_UDP = Number(process.env.FUZZ_SIP_UDP ?? 150000);
const N_TCP = Number(process.env.FUZZ_SIP_TCP ?? 60000);
const N_MSRP = Number(process.env.FUZZ_MSRP ?? 22000);
const MAX_MS = Number(process.env.FUZZ_MAX_SECONDS ?? 900) * 1000;
const DEBUG = !!process.env.FUZZ_DEBUG; // prints the MSRP frames and replies
const T1 = 100; // SIP T1 of the fuzzed server: its UDP transactions (64·T1) drain in 6.4 s after the run
const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const enc = new TextEncoder();
/** One counter per input stream, so the k-th input of each stream is the same in every run of a seed. */
const seq = { udp: 0, tcp: 0, msrp: 0 };
/** Exact status counts beside the classes (bench-results/fuzz.json), and why sessions could not be set up. */
const statuses: Record<string, Record<number, number>> = {};
const sessionErrors: Record<string, number> = {};

// ------------------------------------------------------------------ seeded PRNG (mulberry32)

class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

// ------------------------------------------------------------------ SIP inputs

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\na=path:msrp://127.0.0.1:9/fz;tcp\r\na=accept-types:message/cpim\r\na=setup:active\r\n';
const METHODS = ['OPTIONS', 'REGISTER', 'MESSAGE', 'INVITE', 'BYE', 'CANCEL', 'ACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'FROBNICATE'] as const;
const ODD_VALUES = ['', ' ', '-1', '0', '4294967296', '99999999999999999999', '"', '"unterminated', '<', '>', '<sip:', ';;;', ',,,', '\t', '%00', '%', 'SIP:x@y', 'sip:', '\\', 'é', '\u0000', 'a'.repeat(300)];

function sipBase(r: Rng, transport: 'UDP' | 'TCP', n: number): string {
  const method = r.pick(METHODS);
  const user = r.pick(['deferred', 'alice', 'bob', 'nobody', 'x']);
  const uri = r.chance(0.1) ? r.pick(['SIP:deferred@example.com', 'tel:+15551234', 'sips:deferred@example.com', 'mailto:a@b', 'sip:[::1]:5060']) : `sip:${user}@example.com`;
  const body = method === 'INVITE' ? SDP : method === 'MESSAGE' ? 'hello from the fuzzer' : '';
  const extra: string[] = [];
  if (method === 'MESSAGE') extra.push('Content-Type: text/plain');
  if (method === 'INVITE') extra.push('Content-Type: application/sdp', `Contact: <sip:fz@127.0.0.1:9;transport=${transport.toLowerCase()}>`);
  if (method === 'REGISTER') extra.push(`Contact: <sip:fz@127.0.0.1:9>;expires=${r.int(4000)}`);
  if (method === 'SUBSCRIBE') extra.push('Event: message-summary', 'Expires: 60');
  if (r.chance(0.2)) extra.push(`Authorization: Digest username="alice", realm="example.com", nonce="${r.int(1e9)}", uri="${uri}", response="${md5(String(n))}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c"`);
  if (r.chance(0.1)) extra.push(`Require: ${r.pick(['100rel', 'path', 'foo'])}`);
  const cseqMethod = r.chance(0.03) ? 'OPTIONS' : method;
  return (
    `${method} ${uri} SIP/2.0\r\n` +
    `Via: SIP/2.0/${transport} 127.0.0.1:9;branch=z9hG4bKfz${SEED}${transport}${n};rport\r\n` +
    `Max-Forwards: 70\r\nFrom: "Fuzz ${n}" <sip:fuzz@example.com>;tag=f${n}\r\nTo: <sip:${user}@example.com>\r\n` +
    `Call-ID: fz-${SEED}-${transport}-${n}@127.0.0.1\r\nCSeq: ${1 + r.int(1000)} ${cseqMethod}\r\n` +
    extra.map((e) => `${e}\r\n`).join('') +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** 0-4 mutations of the wire bytes: byte flips, inserts, cuts, duplicated/dropped/reordered lines, odd values. */
function mutate(r: Rng, text: string, maxMutations = 4): Buffer {
  let s = text;
  const count = r.chance(0.1) ? 0 : 1 + r.int(maxMutations);
  for (let m = 0; m < count; m++) {
    const lines = s.split('\r\n');
    const li = r.int(Math.max(1, lines.length - 2));
    switch (r.int(14)) {
      case 0: {
        // flip a byte
        const i = r.int(s.length);
        s = s.slice(0, i) + String.fromCharCode(r.int(256)) + s.slice(i + 1);
        break;
      }
      case 1: {
        const i = r.int(s.length);
        s = s.slice(0, i) + r.bytes(1 + r.int(16)).toString('latin1') + s.slice(i);
        break;
      }
      case 2: {
        const i = r.int(s.length);
        s = s.slice(0, i) + s.slice(i + 1 + r.int(40));
        break;
      }
      case 3:
        lines.splice(li, 0, lines[li]);
        s = lines.join('\r\n');
        break;
      case 4:
        lines.splice(li, 1);
        s = lines.join('\r\n');
        break;
      case 5: {
        // a header value replaced by an odd one
        const c = lines[li].indexOf(':');
        if (c > 0) lines[li] = `${lines[li].slice(0, c + 1)} ${r.pick(ODD_VALUES)}`;
        s = lines.join('\r\n');
        break;
      }
      case 6:
        s = s.replace(/Content-Length: \d+/i, `Content-Length: ${r.pick(['0', '5', '100000', '-3', '99999999999', 'abc', String(r.int(3000))])}`);
        break;
      case 7:
        s = s.replace(/\r\n/g, r.chance(0.5) ? '\n' : '\r');
        break;
      case 8:
        lines[li] = lines[li].toUpperCase();
        s = lines.join('\r\n');
        break;
      case 9:
        s = s.slice(0, r.int(s.length));
        break;
      case 10: {
        // a header repeated many times, or a very long one
        const h = lines[li];
        lines.splice(li, 0, ...Array.from({ length: 1 + r.int(200) }, () => h));
        s = lines.join('\r\n');
        break;
      }
      case 11:
        lines[li] = lines[li].replace(/ /g, r.pick(['  ', '\t', '']));
        s = lines.join('\r\n');
        break;
      case 12: {
        const a = r.int(lines.length - 1);
        const b = r.int(lines.length - 1);
        [lines[a], lines[b]] = [lines[b], lines[a]];
        s = lines.join('\r\n');
        break;
      }
      default:
        s = s.replace(/"/, r.chance(0.5) ? '' : '"\\');
    }
  }
  return Buffer.from(s, 'latin1');
}

// ------------------------------------------------------------------ answers

type AnswerClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | '6xx' | 'none';
const answers: Record<string, Record<AnswerClass, number>> = {};
function tally(kind: string, cls: AnswerClass, status?: number): void {
  answers[kind] ??= { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, '6xx': 0, none: 0 };
  answers[kind][cls]++;
  if (status !== undefined) {
    statuses[kind] ??= {};
    statuses[kind][status] = (statuses[kind][status] ?? 0) + 1;
  }
}
const classOf = (status: number) => `${Math.floor(status / 100)}xx` as AnswerClass;

/** The final answer's status in the first bytes of a response, and the Call-ID it names (for dedupe). */
function finalAnswer(bytes: Buffer): { status: number; key: string } | undefined {
  const p = parseSipMessage(bytes, { datagram: true });
  if (!p.ok || !(p.message instanceof SipResponse) || p.message.status < 200) return undefined;
  return { status: p.message.status, key: `${p.message.callId}|${p.message.get('cseq')}|${p.message.topVia?.branch}` };
}

// ------------------------------------------------------------------ the run

function child(entry: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [join(ROOT, 'dist', entry)], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
}



async function heapMiB(port: number): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: 'Bearer fuzz' } })).text();
    const m = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?)/m.exec(text);
    return m ? Math.round(Number(m[1]) / 2 ** 20) : undefined;
  } catch {
    return undefined;
  }
}

async function fuzzUdp(port: number, r: Rng, count: number, deadline: number): Promise<number> {
  const sock = createSocket('udp4');
  const seen = new Set<string>();
  let finals = 0;
  let wake: (() => void) | undefined;
  sock.on('message', (m) => {
    const a = finalAnswer(m);
    if (!a || seen.has(a.key)) return;
    seen.add(a.key);
    finals++;
    tally('sip-udp', classOf(a.status), a.status);
    wake?.();
  });
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
  let sent = 0;
  let given = 0; // requests given up on (no final answer after a 50 ms silence): they leave the window
  const WINDOW = 96;
  const quiet = () =>
    new Promise<void>((res) => {
      const t = setTimeout(res, 50);
      wake = () => {
        clearTimeout(t);
        res();
      };
    });
  while (sent < count && Date.now() < deadline) {
    while (sent < count && sent - finals - given < WINDOW) {
      sock.send(mutate(r, sipBase(r, 'UDP', ++seq.udp)), port, '127.0.0.1');
      sent++;
    }
    const before = finals;
    await quiet();
    if (finals === before) given = sent - finals;
  }
  for (let i = 0; i < 10 && finals < sent; i++) await quiet();
  sock.close();
  tally('sip-udp', 'none');
  answers['sip-udp'].none = sent - finals;
  return sent;
}

/** TCP: `parallel` connections, each sends one mutated request and waits for its final answer (or a close/timeout). */
async function fuzzTcp(port: number, r: Rng, count: number, deadline: number, parallel = 160): Promise<number> {
  let sent = 0;
  let conns = 0;
  const worker = async () => {
    let sock: Socket | undefined;
    let framer = new SipStreamFramer();
    let pending: ((s: number | 'none') => void) | undefined;
    const open = () =>
      new Promise<Socket>((res, rej) => {
        const s = tcpConnect({ host: '127.0.0.1', port }, () => res(s));
        conns++;
        framer = new SipStreamFramer();
        s.on('data', (d: Buffer) => {
          for (const ev of framer.push(new Uint8Array(d.buffer, d.byteOffset, d.length))) {
            if (ev.type !== 'message') continue;
            const a = finalAnswer(Buffer.from(ev.bytes));
            if (a && sock === s) pending?.(a.status);
          }
        });
        s.on('error', () => undefined);
        s.on('close', () => {
          // a connection given up on closes later: only the current one speaks for the request in flight
          if (sock !== s) return;
          sock = undefined;
          pending?.('none');
        });
        s.once('error', rej);
      });
    while (sent < count && Date.now() < deadline) {
      sock ??= await open();
      const n = ++seq.tcp;
      sent++;
      const outcome = await new Promise<number | 'none'>((res) => {
        // a mutation that shortened the message leaves the server waiting for bytes (until its message timeout)
        const t = setTimeout(() => res('none'), 600);
        pending = (s) => {
          clearTimeout(t);
          pending = undefined;
          res(s);
        };
        sock!.write(mutate(r, sipBase(r, 'TCP', n)));
      });
      if (outcome === 'none') tally('sip-tcp', 'none');
      else tally('sip-tcp', classOf(outcome), outcome);
      // no answer: the server may be waiting for bytes a mutation promised; start afresh
      if (outcome === 'none' && sock) {
        sock.destroy();
        sock = undefined;
      }
    }
    sock?.destroy();
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  console.error(`[fuzz] TCP: ${conns} connections`);
  return sent;
}

/** A live retrieval session: deposit, INVITE (digest) → 200 → ACK, MSRP connect + bind, the message delivered. */
class RetrievalClient {
  private framer = new SipStreamFramer();
  private waiters = new Map<string, (r: SipResponse) => void>();
  private sip!: Socket;
  private nonce?: string;
  private nc = 0;
  private cseq = 0;
  constructor(private readonly sipPort: number, private readonly msrpPort: number, private readonly user: string, private readonly nats: NatsConnection, private readonly prefix: string) {}

  async open(): Promise<void> {
    this.sip = await new Promise<Socket>((r) => {
      const s = tcpConnect(this.sipPort, '127.0.0.1', () => r(s));
    });
    this.sip.on('error', () => undefined);
    this.sip.on('data', (d: Buffer) => {
      for (const ev of this.framer.push(new Uint8Array(d.buffer, d.byteOffset, d.length))) {
        if (ev.type !== 'message') continue;
        const p = parseSipMessage(ev.bytes);
        if (!p.ok) continue;
        const m = p.message;
        if (m instanceof SipResponse) {
          if (m.status < 200) continue;
          const k = `${m.callId}|${m.cseq.method}`;
          this.waiters.get(k)?.(m);
          this.waiters.delete(k);
        } else if (m.method === 'BYE') {
          this.sip.write(`SIP/2.0 200 OK\r\n${m.headers.filter((h) => ['via', 'from', 'to', 'call-id', 'cseq'].includes(h.key)).map((h) => `${h.name}: ${h.value}`).join('\r\n')}\r\nContent-Length: 0\r\n\r\n`);
        }
      }
    });
  }

  private request(callId: string, method: string, text: string): Promise<SipResponse> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${method} unanswered`)), 10000);
      this.waiters.set(`${callId}|${method}`, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      this.sip.write(text);
    });
  }

  /** A new session; resolves with the MSRP socket bound to it and the paths to address frames with. */
  async session(): Promise<{ socket: Socket; localPath: string; serverPath: string; closed: Promise<void>; onReply(fn: (status: number) => void): void }> {
    await this.nats.request(`${this.prefix}im.deferred.deposit`, enc.encode(JSON.stringify({ to: `sip:${this.user}@example.com`, from: 'sip:alice@example.com', text: 'to be fetched' })), { timeout: 10000 });
    const callId = randomBytes(8).toString('hex');
    const tag = randomBytes(4).toString('hex');
    const sid = randomBytes(10).toString('hex');
    const localPath = `msrp://127.0.0.1:9/${sid};tcp`;
    const sdp = SDP.replace('msrp://127.0.0.1:9/fz;tcp', localPath);
    const uri = 'sip:deferred@example.com';
    const invite = (cseq: number, auth = '') =>
      `INVITE ${uri} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK${randomBytes(6).toString('hex')};rport\r\nMax-Forwards: 70\r\nFrom: <sip:${this.user}@example.com>;tag=${tag}\r\nTo: <${uri}>\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} INVITE\r\nContact: <sip:${this.user}@127.0.0.1:9;transport=tcp>\r\n${auth}Content-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`;
    const auth = () => {
      const nc = (++this.nc).toString(16).padStart(8, '0');
      const response = md5(`${md5(`${this.user}:example.com:fuzz-pw`)}:${this.nonce}:${nc}:c0ffee:auth:${md5(`INVITE:${uri}`)}`);
      return `Authorization: Digest username="${this.user}", realm="example.com", nonce="${this.nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="c0ffee"\r\n`;
    };
    let cseq = ++this.cseq;
    let res = await this.request(callId, 'INVITE', invite(cseq, this.nonce ? auth() : ''));
    for (let tries = 0; (res.status === 401 || res.status === 407) && tries < 2; tries++) {
      this.sip.write(`ACK ${uri} SIP/2.0\r\n${res.headers.filter((h) => h.key === 'via').map((h) => `Via: ${h.value}`).join('\r\n')}\r\nMax-Forwards: 70\r\nFrom: <sip:${this.user}@example.com>;tag=${tag}\r\nTo: ${res.get('to')}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} ACK\r\nContent-Length: 0\r\n\r\n`);
      this.nonce = parseDigest(res.getAll('www-authenticate')[0])!.nonce;
      this.nc = 0;
      cseq = ++this.cseq;
      res = await this.request(callId, 'INVITE', invite(cseq, auth()));
    }
    if (res.status !== 200) throw new Error(`INVITE answered ${res.status} ${res.reason}`);
    this.sip.write(`ACK sip:deferred@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK${randomBytes(6).toString('hex')};rport\r\nMax-Forwards: 70\r\nFrom: <sip:${this.user}@example.com>;tag=${tag}\r\nTo: ${res.get('to')}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} ACK\r\nContent-Length: 0\r\n\r\n`);
    const serverPath = /a=path:(\S+)/.exec(res.bodyText())![1];
    const socket = await new Promise<Socket>((r) => {
      const s = tcpConnect(this.msrpPort, '127.0.0.1', () => r(s));
    });
    socket.on('error', () => undefined);
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    let delivered!: () => void;
    const got = new Promise<void>((r) => (delivered = r));
    const session = new MsrpSession({ localPath, remotePath: serverPath, clock: nodeMsrpClock, random: nodeRandom });
    session.onMessage(() => delivered());
    const conn = new MsrpConnection((b) => socket.write(b), () => socket.end(), { find: (id) => (id === session.id ? session : undefined) });
    let adopted = true;
    let replied: (status: number) => void = () => undefined;
    socket.on('data', (d: Buffer) => {
      if (adopted) return conn.push(new Uint8Array(d.buffer, d.byteOffset, d.length));
      // the fuzzer's view: each transaction response's status (RFC 4975 §7.1 "MSRP" SP transact-id SP status-code)
      if (DEBUG) console.error(`[fuzz] MSRP <- ${JSON.stringify(d.toString('latin1').slice(0, 160))}`);
      for (const m of d.toString('latin1').matchAll(/^MSRP \S+ (\d{3})\b/gm)) replied(Number(m[1]));
    });
    conn.adopt(session);
    await session.sendBind();
    await Promise.race([got, closed, new Promise((r) => setTimeout(r, 10000))]);
    adopted = false; // from here on, the fuzzer reads the raw replies
    return { socket, localPath, serverPath, closed, onReply: (fn) => (replied = fn) };
  }

  close(): void {
    this.sip.destroy();
  }
}

function msrpBase(r: Rng, localPath: string, serverPath: string, n: number): string {
  const tid = `fz${String(n).padStart(6, '0')}`; // RFC 4975 §9 transact-id: 4 to 32 characters
  const kind = r.int(6);
  const body = r.pick(['', 'hello', 'x'.repeat(r.int(3000)), 'Content-Type: text/plain\r\n\r\nnested']);
  if (kind === 0) return `MSRP ${tid} 200 OK\r\nTo-Path: ${serverPath}\r\nFrom-Path: ${localPath}\r\n-------${tid}$\r\n`;
  if (kind === 1) return `MSRP ${tid} REPORT\r\nTo-Path: ${serverPath}\r\nFrom-Path: ${localPath}\r\nMessage-ID: m${n}\r\nByte-Range: 1-5/5\r\nStatus: 000 200 OK\r\n-------${tid}$\r\n`;
  const method = kind === 2 ? r.pick(['AUTH', 'NICKNAME', 'FROB']) : 'SEND';
  const len = Buffer.byteLength(body);
  const range = r.chance(0.8) ? `${len ? 1 : 0}-${len}/${len}` : r.pick(['1-*/*', '0-0/0', '5-2/1', '1-99999999999/*', 'x']);
  return `MSRP ${tid} ${method}\r\nTo-Path: ${serverPath}\r\nFrom-Path: ${localPath}\r\nMessage-ID: m${n}\r\nByte-Range: ${range}\r\n${r.chance(0.3) ? 'Success-Report: yes\r\n' : ''}${r.chance(0.3) ? 'Failure-Report: partial\r\n' : ''}Content-Type: ${r.pick(['text/plain', 'message/cpim', 'application/x-odd'])}\r\n\r\n${body}\r\n-------${tid}${r.pick(['$', '+', '#'])}\r\n`;
}

/** MSRP: a few live sessions in turn; mostly soft mutations (values), some that break the framing (a new session then). */
async function fuzzMsrp(sipPort: number, msrpPort: number, nats: NatsConnection, prefix: string, users: string[], r: Rng, count: number, deadline: number): Promise<{ frames: number; sessions: number; failedSessions: number }> {
  let frames = 0;
  let sessions = 0;
  let failedSessions = 0;
  await Promise.all(
    users.map(async (user) => {
      const c = new RetrievalClient(sipPort, msrpPort, user, nats, prefix);
      await c.open();
      while (frames < count && Date.now() < deadline) {
        let s;
        try {
          s = await c.session();
          sessions++;
        } catch (e) {
          failedSessions++;
          const why = (e as Error).message.slice(0, 60);
          sessionErrors[why] = (sessionErrors[why] ?? 0) + 1;
          // 486: the previous session of this user is still being torn down on the server
          await new Promise((res) => setTimeout(res, 200));
          if (failedSessions > 500) {
            console.error(`[fuzz] MSRP: giving up on new sessions: ${(e as Error).message}`);
            break;
          }
          continue;
        }
        let alive = true;
        let wake: (() => void) | undefined;
        let answered = 0;
        void s.closed.then(() => {
          alive = false;
          wake?.();
        });
        s.onReply((status) => {
          answered++;
          tally('msrp', classOf(status), status);
          wake?.();
        });
        while (alive && frames < count && Date.now() < deadline) {
          const text = msrpBase(r, s.localPath, s.serverPath, ++seq.msrp);
          // soft: values mutated inside the frame; hard (2 %): anything, framing included
          const bytes = r.chance(0.02) ? mutate(r, text) : mutateSoft(r, text);
          frames++;
          if (DEBUG) console.error(`[fuzz] MSRP -> ${JSON.stringify(bytes.toString('latin1').slice(0, 160))}`);
          // the next frame goes once this one is answered, or after 60 ms (REPORTs, responses and
          // Failure-Report: no/partial get no answer, RFC 4975 §7.1.2), so frames are not lost behind a fatal one
          await new Promise<void>((res) => {
            const t = setTimeout(res, 60);
            wake = () => {
              clearTimeout(t);
              res();
            };
            s.socket.write(bytes);
          });
          wake = undefined;
        }
        s.socket.destroy();
      }
      c.close();
    }),
  );
  tally('msrp', 'none');
  const a = answers.msrp;
  a.none = Math.max(0, frames - (a['1xx'] + a['2xx'] + a['3xx'] + a['4xx'] + a['5xx'] + a['6xx']));
  return { frames, sessions, failedSessions };
}

/** Mutations that keep the frame's start and end lines: header values, the body, the Byte-Range, the status. */
function mutateSoft(r: Rng, text: string): Buffer {
  const lines = text.split('\r\n');
  // the start line, To-Path and From-Path stay (else nearly every frame is fatal); 5 % get a path value replaced
  if (r.chance(0.05)) lines[1 + r.int(2)] = `${r.pick(['To-Path', 'From-Path'])}: ${r.pick(['msrp://127.0.0.1:9/other;tcp', 'msrp://x', '', '<sip:'])}`;
  for (let m = 1 + r.int(3); m > 0; m--) {
    const end = lines.findIndex((l) => l.startsWith('-------'));
    const i = 3 + r.int(Math.max(1, end - 3)); // a line between From-Path and the end-line (or the end-line's place)
    const line = lines[i] ?? '';
    const c = line.indexOf(':');
    if (c > 0 && i < end && r.chance(0.6)) lines[i] = `${line.slice(0, c + 1)} ${r.pick([...ODD_VALUES, 'msrp://127.0.0.1:9/other;tcp', 'msrp://x', '1-2/3', '000 200 OK'])}`;
    else if (i < end && r.chance(0.5)) lines.splice(i, 1);
    else lines.splice(i, 0, r.pick(['Byte-Range: 1-1/1', 'Message-ID: dup', 'X-Odd: ' + 'y'.repeat(r.int(500)), 'Content-Type: a/b', 'Success-Report: maybe']));
  }
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

async function main(): Promise<void> {
  const started = Date.now();
  const deadline = started + MAX_MS;
  const infra = await ensureLocalInfra({ log: (l) => console.error(`[fuzz] ${l}`) });
  const id = randomBytes(3).toString('hex');
  const prefix = `fz${id}.`;
  const [ceHttp, imHttp, sipUdp, sipTcp, msrpTcp] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const common = { NATS_URL: infra.nats.url, REDIS_URL: infra.redis.url, NATS_SUBJECT_PREFIX: prefix, REDIS_KEY_PREFIX: `fz${id}:`, ADMIN_TOKEN: 'fuzz', LOG_LEVEL: 'error', HTTP_HOST: '127.0.0.1' };
  const ce = child('apps/charging-enabler/src/main.js', { ...common, CDR_STREAM: `FZ${id}`, HTTP_PORT: String(ceHttp), TARIFFS_FILE: join(ROOT, 'deploy', 'tariffs.yaml') });
  const im = child('apps/im-server/src/main.js', {
    ...common,
    HTTP_PORT: String(imHttp),
    SIP_WS_PORT: '0',
    MSRP_WS_PORT: '0',
    SIP_UDP_PORT: String(sipUdp),
    SIP_TCP_PORT: String(sipTcp),
    MSRP_TCP_PORT: String(msrpTcp),
    SIP_BIND_HOST: '127.0.0.1',
    SIP_T1_MS: String(T1),
    IM_SESSION_IDLE_MS: '600000',
    SIP_TCP_MESSAGE_TIMEOUT_MS: '2000',
  });
  let crashes = 0;
  const exits: string[] = [];
  for (const [name, p] of [['im-server', im], ['charging-enabler', ce]] as const)
    p.on('exit', (code, sig) => {
      if (!stopping) {
        crashes++;
        exits.push(`${name} exited (${code ?? sig})`);
      }
    });
  let stopping = false;
  const nats = await natsConnect({ servers: infra.nats.url });
  const result: Record<string, unknown> = { seed: SEED };
  try {
    await Promise.all([waitHttp(`http://127.0.0.1:${ceHttp}/health/ready`), waitHttp(`http://127.0.0.1:${imHttp}/health/ready`)]);
    const adminCall = (port: number, method: string, path: string, body: unknown) =>
      fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { authorization: 'Bearer fuzz', 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const users = Array.from({ length: 6 }, (_, i) => `fz${i}u${id}`);
    for (const u of users) {
      await adminCall(ceHttp, 'POST', '/v1/accounts', { subscriber: `sip:${u}@example.com`, balance: 100_000_000, currency: 'EUR' });
      await adminCall(imHttp, 'PUT', `/v1/users/${encodeURIComponent(`sip:${u}@example.com`)}`, { password: 'fuzz-pw' });
    }
    const rss = { before: rssMiB(im.pid!), peak: 0, after: 0 };
    const heap = { before: await heapMiB(imHttp), after: undefined as number | undefined };
    rss.peak = rss.before;
    const sampler = setInterval(() => (rss.peak = Math.max(rss.peak, rssMiB(im.pid!))), 200);

    const t0 = Date.now();
    console.error(`[fuzz] seed ${SEED}: ${N_UDP} SIP/UDP, ${N_TCP} SIP/TCP, ${N_MSRP} MSRP…`);
    // UDP and TCP at once, then MSRP on live sessions (its own seeded stream so each part replays alone)
    const [udp, tcp] = await Promise.all([fuzzUdp(sipUdp, new Rng(SEED * 3 + 1), N_UDP, deadline), fuzzTcp(sipTcp, new Rng(SEED * 3 + 2), N_TCP, deadline)]);
    const sipSecs = (Date.now() - t0) / 1000;
    console.error(`[fuzz] SIP: ${udp + tcp} in ${sipSecs.toFixed(1)} s`);
    const t1 = Date.now();
    const msrp = await fuzzMsrp(sipTcp, msrpTcp, nats, prefix, users, new Rng(SEED * 3 + 3), N_MSRP, deadline);
    const msrpSecs = (Date.now() - t1) / 1000;
    clearInterval(sampler);

    // after: the server answers, its UDP transactions (64·T1) and the connections have drained
    const alive = await fetch(`http://127.0.0.1:${imHttp}/health/ready`).then((x) => x.ok, () => false);
    await new Promise((res) => setTimeout(res, 64 * T1 + 2000));
    rss.after = rssMiB(im.pid!);
    heap.after = await heapMiB(imHttp);
    Object.assign(result, {
      sip: { udp, tcp, seconds: +sipSecs.toFixed(1), perSecond: Math.round((udp + tcp) / sipSecs) },
      msrp: { ...msrp, seconds: +msrpSecs.toFixed(1), perSecond: Math.round(msrp.frames / msrpSecs), sessionErrors },
      answers,
      statuses,
      crashes,
      exits,
      healthyAfter: alive,
      imServerRssMiB: rss,
      imServerHeapMiB: heap,
      totalSeconds: +((Date.now() - started) / 1000).toFixed(1),
    });
  } finally {
    stopping = true;
    await nats.close();
    for (const p of [im, ce]) p.kill('SIGTERM');
    await Promise.all([im, ce].map((p) => new Promise((res) => (p.exitCode !== null || p.signalCode !== null ? res(null) : p.once('exit', res)))));
    await infra.stop();
  }
  const s = result.sip as Record<string, number>;
  const m = result.msrp as Record<string, number>;
  const rs = result.imServerRssMiB as Record<string, number>;
  const hp = result.imServerHeapMiB as Record<string, number | undefined>;
  const row = (k: string) => {
    const a = answers[k] ?? {};
    return `2xx ${a['2xx'] ?? 0} · 4xx ${a['4xx'] ?? 0} · 5xx ${a['5xx'] ?? 0} · other final ${(a['3xx'] ?? 0) + (a['6xx'] ?? 0)} · none ${a.none ?? 0}`;
  };
  console.log(`\nfuzz — seed ${SEED}; im-server and enabler in their own processes, real Redis and NATS\n`);
  console.log('| figure | value |');
  console.log('|---|---|');
  console.log(`| SIP requests sent (UDP / TCP) | ${s.udp} / ${s.tcp} in ${s.seconds} s (${s.perSecond}/s) |`);
  console.log(`| SIP answers over UDP (final, deduplicated) | ${row('sip-udp')} |`);
  console.log(`| SIP answers over TCP | ${row('sip-tcp')} |`);
  console.log(`| MSRP frames on live sessions | ${m.frames} in ${m.seconds} s (${m.perSecond}/s), ${m.sessions} sessions |`);
  console.log(`| MSRP answers | ${row('msrp')} |`);
  console.log(`| crashes | ${crashes}${exits.length ? ` (${exits.join('; ')})` : ''} |`);
  console.log(`| im-server ready after the run | ${result.healthyAfter ? 'yes' : 'NO'} |`);
  console.log(`| im-server RSS before / peak / after (MiB) | ${rs.before} / ${rs.peak} / ${rs.after} |`);
  console.log(`| im-server V8 heap used before / after (MiB) | ${hp.before ?? '?'} / ${hp.after ?? '?'} |`);
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench-results', 'fuzz.json'), JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2));
  if (crashes || !result.healthyAfter) process.exit(1);
}

export { fuzzTcp, fuzzUdp, mutate, sipBase, Rng, answers, statuses };

if (require.main === module)
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
