/**
 * Streaming MSRP parser (RFC 4975 §7, §8): a byte state machine fed any chunking of the connection. There is no
 * Content-Length in MSRP; a body ends at `CRLF -------<tid><flag> CRLF`, which the sender guarantees does not occur
 * in the body (§7.1, errata 4177), so the parser scans for that exact line. Hard limits on the start line, header
 * block and chunk body; an error names the parser state and is fatal for the connection (a peer that sends garbage
 * gets a 400 when a transaction id could be read, else the connection is closed — the caller decides).
 */
import { EndFlag, MsrpFrame } from './msrp-frame';

export interface MsrpParserLimits {
  maxLineBytes?: number;
  maxHeaderBytes?: number;
  maxChunkBytes?: number;
}

export class MsrpParseError extends Error {
  constructor(readonly state: string, message: string, readonly tid?: string) {
    super(`MSRP parse error in ${state}: ${message}`);
    this.name = 'MsrpParseError';
  }
}

const enum S {
  StartLine,
  Headers,
  Body,
  Failed,
}

const dec = new TextDecoder();
const REQ = /^MSRP ([A-Za-z0-9][A-Za-z0-9.+%=-]{3,31}) ([A-Z]+)$/;
const RES = /^MSRP ([A-Za-z0-9][A-Za-z0-9.+%=-]{3,31}) (\d{3})(?: (.*))?$/;

export type MsrpParseEvent = { type: 'frame'; frame: MsrpFrame } | { type: 'error'; error: MsrpParseError };

export class MsrpParser {
  private buf = new Uint8Array(8192);
  private len = 0;
  private pos = 0;
  private state = S.StartLine;
  private frame?: MsrpFrame;
  private endLine?: Uint8Array; // "\r\n-------<tid>"
  private scanFrom = 0;
  private headerBytes = 0;
  private readonly maxLine: number;
  private readonly maxHeader: number;
  private readonly maxChunk: number;

  constructor(limits: MsrpParserLimits = {}) {
    this.maxLine = limits.maxLineBytes ?? 16384;
    this.maxHeader = limits.maxHeaderBytes ?? 65536;
    this.maxChunk = limits.maxChunkBytes ?? 16 * 1024 * 1024;
  }

  get failed(): boolean {
    return this.state === S.Failed;
  }

  /**
   * The request or response whose header section is complete and whose body is still arriving (its `body` is empty
   * until the frame event), else undefined. A connection screens it before buffering the body: RFC 4975 §7.3 lets the
   * receiver answer from the To-Path alone, and an unbound peer must not make us hold a body (§14.1).
   */
  get pendingHeaders(): MsrpFrame | undefined {
    return this.state === S.Body ? this.frame : undefined;
  }

  /** Bytes held and not yet given out as frames. */
  get bufferedBytes(): number {
    return this.len - this.pos;
  }

  push(chunk: Uint8Array): MsrpParseEvent[] {
    const out: MsrpParseEvent[] = [];
    if (this.state === S.Failed) return out;
    this.append(chunk);
    for (;;) {
      if (this.state === S.StartLine || this.state === S.Headers) {
        const eol = this.indexOfCrlf(this.pos);
        if (eol < 0) {
          if (this.len - this.pos > this.maxLine) return this.fail(out, 'a line longer than the limit');
          break;
        }
        const line = dec.decode(this.buf.subarray(this.pos, eol));
        this.pos = eol + 2;
        if (this.state === S.StartLine) {
          if (line === '') continue; // tolerate stray CRLFs between frames
          const r = REQ.exec(line);
          const s = r ? undefined : RES.exec(line);
          if (!r && !s) return this.fail(out, `malformed start line ${JSON.stringify(line.slice(0, 80))}`);
          const tid = (r ?? s)![1];
          this.frame = { tid, toPath: [], fromPath: [], headers: [], body: new Uint8Array(0), flag: '$' };
          if (r) this.frame.method = r[2];
          else {
            this.frame.status = Number(s![2]);
            if (s![3]) this.frame.comment = s![3];
          }
          this.endLine = new TextEncoder().encode(`-------${tid}`);
          this.headerBytes = 0;
          this.state = S.Headers;
          continue;
        }
        // Headers
        const f = this.frame!;
        this.headerBytes += line.length + 2;
        if (this.headerBytes > this.maxHeader) return this.fail(out, 'header block larger than the limit', f.tid);
        if (line.startsWith('-------')) {
          const flag = this.endFlag(line, f.tid);
          if (!flag) return this.fail(out, `bad end-line ${JSON.stringify(line.slice(0, 80))}`, f.tid);
          const bad = this.checkPaths(f);
          if (bad) return this.fail(out, bad, f.tid);
          f.flag = flag;
          out.push({ type: 'frame', frame: f });
          this.reset();
          continue;
        }
        if (line === '') {
          const bad = this.checkPaths(f);
          if (bad) return this.fail(out, bad, f.tid);
          this.state = S.Body;
          this.scanFrom = this.pos;
          continue;
        }
        const colon = line.indexOf(':');
        if (colon <= 0) return this.fail(out, `malformed header line ${JSON.stringify(line.slice(0, 80))}`, f.tid);
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        const lname = name.toLowerCase();
        if (lname === 'to-path') {
          // §7.1: To-Path MUST be the first header, From-Path the second
          if (f.headers.length || f.fromPath.length || f.toPath.length) return this.fail(out, 'To-Path is not the first header', f.tid);
          f.toPath = value.split(/\s+/).filter(Boolean);
        } else if (lname === 'from-path') {
          if (!f.toPath.length || f.headers.length || f.fromPath.length) return this.fail(out, 'From-Path is not the second header', f.tid);
          f.fromPath = value.split(/\s+/).filter(Boolean);
        } else {
          if (!f.toPath.length || !f.fromPath.length) return this.fail(out, 'To-Path and From-Path must come first', f.tid);
          f.headers.push([name, value]);
        }
        continue;
      }
      if (this.state === S.Body) {
        const at = this.findEndLine();
        if (at < 0) {
          if (this.len - this.pos > this.maxChunk) return this.fail(out, 'chunk body larger than the limit', this.frame!.tid);
          break;
        }
        // at = index of "\r\n-------tid"; flag at at+2+endLine.length, then CRLF
        const flagAt = at + 2 + this.endLine!.length;
        if (flagAt + 2 >= this.len) break; // wait for the flag's CRLF
        const flag = String.fromCharCode(this.buf[flagAt]) as EndFlag;
        if (this.buf[flagAt + 1] !== 13 || this.buf[flagAt + 2] !== 10) return this.fail(out, 'end-line not followed by CRLF', this.frame!.tid);
        this.frame!.body = this.buf.slice(this.pos, at);
        this.frame!.flag = flag;
        this.pos = flagAt + 3;
        out.push({ type: 'frame', frame: this.frame! });
        this.reset();
        continue;
      }
      break;
    }
    this.compact();
    return out;
  }

  private endFlag(line: string, tid: string): EndFlag | undefined {
    if (line.length !== 7 + tid.length + 1 || line.slice(7, 7 + tid.length) !== tid) return undefined;
    const c = line[line.length - 1];
    return c === '$' || c === '+' || c === '#' ? c : undefined;
  }

  private checkPaths(f: MsrpFrame): string | undefined {
    if (!f.toPath.length) return 'missing To-Path';
    if (!f.fromPath.length) return 'missing From-Path';
    return undefined;
  }

  /** Finds "\r\n-------<tid>" followed by a flag byte in the body, resuming where the last scan stopped. */
  private findEndLine(): number {
    const e = this.endLine!;
    const need = 2 + e.length + 1;
    // the CRLF before the end-line may be the blank line that ended the headers (empty body), hence pos - 2
    for (let i = Math.max(this.scanFrom - 2, this.pos - 2, 0); i + need <= this.len; i++) {
      if (this.buf[i] !== 13 || this.buf[i + 1] !== 10) continue;
      let ok = true;
      for (let j = 0; j < e.length; j++) {
        if (this.buf[i + 2 + j] !== e[j]) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      const flag = this.buf[i + 2 + e.length];
      if (flag === 36 || flag === 43 || flag === 35) return i; // $ + #
    }
    this.scanFrom = Math.max(this.pos, this.len - need + 1);
    return -1;
  }

  private indexOfCrlf(from: number): number {
    for (let i = from; i + 1 < this.len; i++) if (this.buf[i] === 13 && this.buf[i + 1] === 10) return i;
    return -1;
  }

  private reset(): void {
    this.state = S.StartLine;
    this.frame = undefined;
    this.endLine = undefined;
  }

  private fail(out: MsrpParseEvent[], message: string, tid?: string): MsrpParseEvent[] {
    const where = this.state === S.StartLine ? 'start-line' : this.state === S.Headers ? 'headers' : 'body';
    this.state = S.Failed;
    this.buf = new Uint8Array(0);
    this.len = this.pos = 0;
    out.push({ type: 'error', error: new MsrpParseError(where, message, tid) });
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
    this.buf.copyWithin(0, this.pos, this.len);
    this.len -= this.pos;
    this.scanFrom = Math.max(0, this.scanFrom - this.pos);
    this.pos = 0;
  }
}
