/**
 * One MSRP session (RFC 4975 §5–§8): our path and the peer's, bound to a connection by the first request the
 * peer sends (or that we send, when we are the active side). Sends messages in chunks (§7.1.1 Byte-Range, `+`/`$`),
 * one transaction per chunk with a timeout (30 s by default, treated as 408, §7.1.2); receives and reassembles the
 * peer's SENDs, answering them per Failure-Report (§7.1.2: `no` → no response, `partial` → errors only) and sending
 * success REPORTs when asked (§7.1.2, §7.1.3). A REPORT is never answered (§7.1.2).
 */
import { MsrpFrame, header, parseByteRange } from './msrp-frame';
import { responseTo, serializeFrame } from './msrp-serializer';
import { MESSAGE_ID_BITS, MsrpRandom, newSessionId, randomId, TID_BITS } from './random';

export interface MsrpClock {
  now(): number;
  setTimer(ms: number, fn: () => void): { cancel(): void };
}

export type SendOutcome =
  | { kind: 'delivered' }
  | { kind: 'rejected'; status: number; comment?: string }
  | { kind: 'timeout' }
  /** Every chunk was written, then the session closed before the response came (the peer withheld it or hung up). */
  | { kind: 'unanswered' }
  /** Nothing was written: the session was already closed or not bound. */
  | { kind: 'closed' };

export interface OutgoingMessage {
  contentType: string;
  body: Uint8Array;
  messageId?: string;
  /** Success-Report: yes — delivery is confirmed by the REPORT, not the transaction response. */
  successReport?: boolean;
}

export interface IncomingMessage {
  messageId: string;
  contentType: string;
  body: Uint8Array;
}

export interface MsrpSessionOptions {
  localPath: string;
  remotePath: string;
  clock: MsrpClock;
  /** Where transaction ids and Message-IDs come from (a CSPRNG: node:crypto, crypto.getRandomValues). */
  random: MsrpRandom;
  /**
   * Whom the session belongs to (the im-server: the authenticated AOR). While a connection carries a live session of
   * one owner it binds no other owner's session (MsrpConnection).
   */
  owner?: string;
  chunkSize?: number;
  transactionTimeoutMs?: number;
  /** Receiving side: the status to answer a complete incoming message with (undefined = no answer at all). */
  answer?: (m: IncomingMessage) => number | undefined;
  /**
   * A send-only endpoint (a=sendonly, as the deferred-messaging server is): every incoming SEND but the empty bind
   * SEND is answered 403 and nothing of it is kept, so a peer cannot make the session buffer data.
   */
  sendOnly?: boolean;
  /** Bytes of unfinished incoming messages kept at once (default 16 MiB); beyond, chunks are answered 413. */
  maxInboundBytes?: number;
}

interface PendingTx {
  resolve: (status: number | 'timeout', comment?: string) => void;
  timer: { cancel(): void };
}

interface Reassembly {
  contentType: string;
  total?: number;
  parts: { start: number; bytes: Uint8Array }[];
  received: number;
}

export class MsrpSession {
  readonly id: string;
  private writer?: (bytes: Uint8Array) => void;
  private readonly pending = new Map<string, PendingTx>();
  private readonly reports = new Map<string, (status: number) => void>();
  private readonly inbound = new Map<string, Reassembly>();
  private inboundBytes = 0;
  private readonly listeners: ((m: IncomingMessage) => void)[] = [];
  private closed = false;
  /** Sends nothing new, still takes the responses to what it sent (see `drain`). */
  private draining = false;
  private readonly chunkSize: number;
  private readonly timeoutMs: number;

  constructor(private readonly o: MsrpSessionOptions) {
    // the session-id of our own path (§9); a path without one gets a fresh one (§14.1: ≥ 80 random bits)
    this.id = /^msrps?:\/\/[^/]+\/([^;/?\s]+)/i.exec(o.localPath)?.[1] ?? newSessionId(o.random);
    this.chunkSize = o.chunkSize ?? 2048;
    this.timeoutMs = o.transactionTimeoutMs ?? 30000;
  }

  private newTid(): string {
    return randomId(this.o.random, TID_BITS);
  }

  get bound(): boolean {
    return !!this.writer && !this.closed;
  }

  get remotePath(): string {
    return this.o.remotePath;
  }

  get localPath(): string {
    return this.o.localPath;
  }

  get owner(): string | undefined {
    return this.o.owner;
  }

  /** Binds the session to a connection's writer. Returns false when it is bound already (→ 506). */
  bind(write: (bytes: Uint8Array) => void): boolean {
    if (this.writer) return false;
    this.writer = write;
    return true;
  }

  onMessage(fn: (m: IncomingMessage) => void): void {
    this.listeners.push(fn);
  }

  private write(f: MsrpFrame): void {
    if (!this.closed) this.writer?.(serializeFrame(f));
  }

  /** Sends an empty SEND, as the active side does to bind the connection (§5.4 / RFC 4975 §7.1). */
  sendBind(): Promise<number | 'timeout'> {
    const tid = this.newTid();
    const done = this.transaction(tid);
    this.write({ tid, method: 'SEND', toPath: [this.o.remotePath], fromPath: [this.o.localPath], headers: [['Message-ID', randomId(this.o.random, MESSAGE_ID_BITS)], ['Byte-Range', '1-0/0']], body: new Uint8Array(0), flag: '$' });
    return done;
  }

  private transaction(tid: string): Promise<number | 'timeout'> {
    return new Promise((resolve) => {
      const timer = this.o.clock.setTimer(this.timeoutMs, () => {
        this.pending.delete(tid);
        resolve('timeout');
      });
      this.pending.set(tid, { resolve: (s) => resolve(s), timer });
    });
  }

  /** Sends one message, chunked; resolves with its delivery outcome. */
  async send(m: OutgoingMessage): Promise<SendOutcome> {
    if (this.closed || this.draining || !this.writer) return { kind: 'closed' };
    const messageId = m.messageId ?? randomId(this.o.random, MESSAGE_ID_BITS);
    const total = m.body.length;
    const report = m.successReport
      ? new Promise<number | 'timeout'>((resolve) => {
          const t = this.o.clock.setTimer(this.timeoutMs, () => {
            this.reports.delete(messageId);
            resolve('timeout');
          });
          this.reports.set(messageId, (s) => {
            t.cancel();
            resolve(s);
          });
        })
      : undefined;
    let offset = 0;
    const chunks: Promise<number | 'timeout'>[] = [];
    do {
      const end = Math.min(offset + this.chunkSize, total);
      const tid = this.newTid();
      const last = end >= total;
      chunks.push(this.transaction(tid));
      this.write({
        tid,
        method: 'SEND',
        toPath: [this.o.remotePath],
        fromPath: [this.o.localPath],
        headers: [
          ['Message-ID', messageId],
          ['Byte-Range', `${offset + 1}-${end}/${total}`],
          ['Success-Report', m.successReport ? 'yes' : 'no'],
          ['Failure-Report', 'yes'],
          ['Content-Type', m.contentType],
        ],
        body: m.body.subarray(offset, end),
        flag: last ? '$' : '+',
      });
      offset = end;
    } while (offset < total);
    const statuses = await Promise.all(chunks);
    if (this.closed && statuses.some((s) => s === 'timeout')) return { kind: 'unanswered' };
    const bad = statuses.find((s) => s !== 200);
    if (bad === 'timeout') return { kind: 'timeout' };
    if (bad !== undefined) return { kind: 'rejected', status: bad };
    if (report) {
      const r = await report;
      if (this.closed && (r === 'timeout' || r === 0)) return { kind: 'unanswered' }; // closed while the REPORT was awaited
      if (r === 'timeout') return { kind: 'timeout' };
      if (r !== 200) return { kind: 'rejected', status: r };
    }
    return { kind: 'delivered' };
  }

  /** A frame for this session arrived on its connection. */
  receive(f: MsrpFrame): void {
    if (this.closed) return;
    if (f.status !== undefined) {
      const p = this.pending.get(f.tid);
      if (!p) return;
      this.pending.delete(f.tid);
      p.timer.cancel();
      p.resolve(f.status, f.comment);
      return;
    }
    if (f.method === 'REPORT') {
      // §7.1.2 "REPORT requests are never responded to"; Status: 000 200 OK
      const status = Number(/^\s*\d{3}\s+(\d{3})/.exec(header(f, 'Status') ?? '')?.[1] ?? 0);
      const id = header(f, 'Message-ID');
      if (id) this.reports.get(id)?.(status);
      if (id) this.reports.delete(id);
      return;
    }
    if (f.method === 'SEND') return this.receiveSend(f);
    // §7.1.2 / §10: an unknown method gets 501
    this.write(responseTo(f, 501, [this.o.localPath]));
  }

  private receiveSend(f: MsrpFrame): void {
    const failureReport = (header(f, 'Failure-Report') ?? 'yes').toLowerCase();
    const respond = (status: number) => {
      if (failureReport === 'no') return;
      if (failureReport === 'partial' && status === 200) return;
      this.write(responseTo(f, status, [this.o.localPath]));
    };
    const id = header(f, 'Message-ID');
    const range = parseByteRange(header(f, 'Byte-Range'));
    if (!id || !range) return respond(400);
    if (f.body.length === 0 && range.total === 0) return respond(200); // bind SEND (empty)
    if (this.o.sendOnly) return respond(403); // RFC 4975 §7.2 / RFC 4566 a=sendonly: we do not receive
    let r = this.inbound.get(id);
    if (!r) {
      r = { contentType: header(f, 'Content-Type') ?? 'application/octet-stream', parts: [], received: 0 };
      this.inbound.set(id, r);
    }
    if (f.flag === '#') {
      this.dropInbound(id); // §7.1: aborted by the sender
      return respond(200);
    }
    if (typeof range.total === 'number') r.total = range.total;
    if (this.inboundBytes + f.body.length > (this.o.maxInboundBytes ?? 16 * 1024 * 1024)) {
      this.dropInbound(id);
      return respond(413); // §7.1.1: the message is too large for us; the sender should abort it
    }
    r.parts.push({ start: range.start, bytes: f.body });
    r.received += f.body.length;
    this.inboundBytes += f.body.length;
    // §7.1.1: chunks may arrive in any order; with a known total the message is complete when every byte is in,
    // whichever chunk carried the `$`.
    if (f.flag === '$' && r.total === undefined) r.total = r.received;
    const complete = r.total !== undefined && r.received >= r.total;
    if (!complete) return respond(200);
    this.dropInbound(id);
    const size = r.total ?? r.received;
    const body = new Uint8Array(size);
    for (const p of r.parts.sort((a, b) => a.start - b.start)) {
      if (p.start < 1 || p.start - 1 >= size) continue; // a range outside the message: ignored
      body.set(p.bytes.subarray(0, size - (p.start - 1)), p.start - 1);
    }
    const msg = { messageId: id, contentType: r.contentType, body };
    const status = this.o.answer ? this.o.answer(msg) : 200;
    if (status === undefined) return; // silence: the sender's transaction times out
    respond(status);
    if (status === 200) {
      for (const l of this.listeners) l(msg);
      if ((header(f, 'Success-Report') ?? 'no').toLowerCase() === 'yes') {
        this.write({
          tid: this.newTid(),
          method: 'REPORT',
          toPath: [this.o.remotePath],
          fromPath: [this.o.localPath],
          headers: [['Message-ID', id], ['Byte-Range', `1-${size}/${size}`], ['Status', '000 200 OK']],
          body: new Uint8Array(0),
          flag: '$',
        });
      }
    }
  }

  private dropInbound(id: string): void {
    const r = this.inbound.get(id);
    if (!r) return;
    this.inboundBytes -= r.received;
    this.inbound.delete(id);
  }

  /**
   * The session's dialog is over (a BYE): no new message is sent, but the responses to the SENDs already written are
   * still taken until `close`. A draining session no longer holds its connection for its owner: another user's
   * session may bind there (MsrpConnection), since nothing more of this one goes out on it.
   */
  drain(): void {
    this.draining = true;
  }

  /** Bound, open and still sending: the connection carries it for its owner. */
  get isLive(): boolean {
    return this.bound && !this.draining;
  }

  /** Ends the session: sends still waiting for their response resolve as `unanswered`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      p.timer.cancel();
      p.resolve('timeout');
    }
    this.pending.clear();
    for (const r of this.reports.values()) r(0);
    this.reports.clear();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
