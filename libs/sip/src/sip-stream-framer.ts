/**
 * Cuts SIP messages out of a reliable byte stream (TCP/TLS). RFC 3261 §18.3: over a stream transport the
 * Content-Length header field MUST be used to find the end of each message; §7.5 / RFC 5626 §3.5.1: CRLFs between
 * messages are keep-alives ("CRLFCRLF" ping is answered with a "CRLF" pong). A byte state machine with limits:
 * fed any chunking, it never rescans what it has already scanned, and a framing error is fatal for the connection
 * (there is no way to resynchronise), reported with the response to send first.
 */
import { findHeaderEnd } from './sip-parser';

export type FramerEvent =
  | { type: 'message'; bytes: Uint8Array }
  | { type: 'ping' }
  | { type: 'error'; status: number; reason: string };

export interface FramerLimits {
  maxHeaderBytes?: number;
  maxBodyBytes?: number;
}

const enum State {
  Between = 0,
  Headers = 1,
  Body = 2,
  Failed = 3,
}

const dec = new TextDecoder('latin1');
const CL_RE = /^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t]*$/im;
/** A start line longer than this is not SIP (a Request-URI this long is refused anyway). */
const MAX_START_LINE = 8192;
/** What may stand before the first SP of a start line: a method token (§25.1) or "SIP/2.0" of a status line. */
const START_CHARS = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~/") START_CHARS[c.charCodeAt(0)] = 1;
/**
 * §7.1 Request-Line = Method SP Request-URI SP SIP-Version, §7.2 Status-Line = SIP-Version SP Status-Code SP …; a
 * request line with its elements badly spaced still looks like a request (the parser answers it 400).
 */
const SIP_START = /^(?:SIP\/\d+\.\d+ \d|[A-Za-z0-9.!%*_+`'~-]+[ \t]+\S.*[ \t]+SIP\/\d+\.\d+[ \t]*$)/;

export class SipStreamFramer {
  private buf = new Uint8Array(4096);
  private len = 0;
  private pos = 0; // start of the current message (or of unconsumed bytes)
  private scan = 0; // where the header scan resumes
  private crlfRun = 0;
  private state = State.Between;
  /** Start-line check of the current message: bytes from `pos` already seen, and whether the line was accepted. */
  private lineScan = 0;
  private lineOk = false;
  private lineSpace = false;
  private need = 0; // total bytes of the current message once headers are known
  private readonly maxHeader: number;
  private readonly maxBody: number;

  constructor(limits: FramerLimits = {}) {
    this.maxHeader = limits.maxHeaderBytes ?? 65536;
    this.maxBody = limits.maxBodyBytes ?? 2 * 1024 * 1024;
  }

  get failed(): boolean {
    return this.state === State.Failed;
  }

  /** True while part of a message has arrived and the rest has not (the transport bounds how long that may last). */
  get partial(): boolean {
    return this.state === State.Headers || this.state === State.Body;
  }

  push(chunk: Uint8Array): FramerEvent[] {
    if (this.state === State.Failed) return [];
    this.append(chunk);
    const out: FramerEvent[] = [];
    for (;;) {
      if (this.state === State.Between) {
        // skip keep-alive CRLFs; a CRLFCRLF is a ping
        while (this.pos < this.len && (this.buf[this.pos] === 13 || this.buf[this.pos] === 10)) {
          this.crlfRun++;
          this.pos++;
          if (this.crlfRun === 4) {
            out.push({ type: 'ping' });
            this.crlfRun = 0;
          }
        }
        if (this.pos >= this.len) break;
        this.crlfRun = 0;
        this.state = State.Headers;
        this.scan = this.pos;
        this.lineScan = 0;
        this.lineOk = false;
        this.lineSpace = false;
      }
      if (this.state === State.Headers && !this.lineOk) {
        // bytes that are not SIP are refused at their first line, not after 64 KiB of waiting for an empty line
        const verdict = this.checkStartLine();
        if (verdict === 'garbage') return this.fail(out, 400, 'Malformed Start Line');
        if (verdict === 'more') break;
      }
      if (this.state === State.Headers) {
        const end = findHeaderEnd(this.buf.subarray(0, this.len), this.scan);
        if (end < 0) {
          if (this.len - this.pos > this.maxHeader) return this.fail(out, 513, 'Message Too Large');
          this.scan = Math.max(this.pos, this.len - 3);
          break;
        }
        if (end - this.pos > this.maxHeader) return this.fail(out, 513, 'Message Too Large');
        const head = dec.decode(this.buf.subarray(this.pos, end));
        const m = CL_RE.exec(head);
        if (!m) return this.fail(out, 400, 'Missing Content-Length Header');
        if (!/^\d{1,10}$/.test(m[1])) return this.fail(out, 400, 'Invalid Content-Length');
        const cl = Number(m[1]);
        if (cl > this.maxBody) return this.fail(out, 513, 'Message Too Large');
        this.need = end + 4 - this.pos + cl;
        this.state = State.Body;
      }
      if (this.state === State.Body) {
        if (this.len - this.pos < this.need) break;
        out.push({ type: 'message', bytes: this.buf.slice(this.pos, this.pos + this.need) });
        this.pos += this.need;
        this.state = State.Between;
      }
    }
    this.compact();
    return out;
  }

  /** Scans the start line as it arrives: 'more' until its CRLF, then 'sip' or 'garbage'. */
  private checkStartLine(): 'more' | 'sip' | 'garbage' {
    const from = this.pos;
    let i = from + this.lineScan;
    let sawSpace = this.lineSpace;
    for (; i < this.len; i++) {
      const c = this.buf[i];
      if (c === 10) {
        if (i === from || this.buf[i - 1] !== 13) return 'garbage';
        this.lineOk = SIP_START.test(dec.decode(this.buf.subarray(from, i - 1)));
        return this.lineOk ? 'sip' : 'garbage';
      }
      if (c === 32 || c === 9) sawSpace = true;
      else if (!sawSpace && !START_CHARS[c]) return 'garbage';
      else if (c === 0) return 'garbage';
      if (i - from >= MAX_START_LINE) return 'garbage';
    }
    this.lineScan = i - from;
    this.lineSpace = sawSpace;
    return 'more';
  }

  private fail(out: FramerEvent[], status: number, reason: string): FramerEvent[] {
    this.state = State.Failed;
    this.buf = new Uint8Array(0);
    this.len = this.pos = 0;
    out.push({ type: 'error', status, reason });
    return out;
  }

  private append(chunk: Uint8Array): void {
    if (this.len + chunk.length > this.buf.length) {
      this.compact();
      if (this.len + chunk.length > this.buf.length) {
        const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + chunk.length));
        next.set(this.buf.subarray(0, this.len));
        this.buf = next;
      }
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
  }

  private compact(): void {
    if (this.pos === 0) return;
    if (this.pos === this.len) {
      this.len = this.pos = this.scan = 0;
      return;
    }
    this.buf.copyWithin(0, this.pos, this.len);
    this.len -= this.pos;
    this.scan = Math.max(0, this.scan - this.pos);
    this.pos = 0;
  }
}
