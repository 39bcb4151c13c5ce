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

export class SipStreamFramer {
  private buf = new Uint8Array(4096);
  private len = 0;
  private pos = 0; // start of the current message (or of unconsumed bytes)
  private scan = 0; // where the header scan resumes
  private crlfRun = 0;
  private state = State.Between;
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
