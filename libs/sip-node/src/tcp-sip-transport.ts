/**
 * SIP over TCP (and TLS when a certificate is given): each connection runs a `SipStreamFramer`; a framing error
 * closes the connection after the framer's verdict (RFC 3261 §18.3: no resynchronisation on a stream). The verdict
 * is first sent as a response (e.g. "400 Invalid Content-Length", "513 Message Too Large", §21.4.1) when the bytes
 * of the refused message start with a request line and headers that can address it (§8.2.6: Via, From, To, Call-ID,
 * CSeq copied); unframeable bytes just get the connection closed. CRLFCRLF keep-alive pings are answered with CRLF
 * (RFC 5626 §3.5.1). Open connections are reused to reach their peer.
 *
 * Slow senders (issue 12): a message must arrive whole within `messageTimeoutMs` of its first byte (RFC 3261 §18.3
 * frames by Content-Length, so a sender that announces more than it sends would otherwise hold the connection and
 * its buffer for ever); it is then answered 408 when addressable and the connection closed. At most
 * `maxPartialPerSource` connections from one IP address may hold a half-received message at a time; the next one
 * that would is closed.
 */
import { createConnection, createServer, Server, Socket } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect, TlsOptions } from 'node:tls';
import {
  SipStreamFramer,
  FramerLimits,
  SipRequest,
  createResponse,
  findHeaderEnd,
  parseSipMessage,
  serializeSipMessage,
  stampVia,
} from '@imc/sip';
import { SipFlow, SipInbound, SipTransport } from './sip-flow';

const PONG = new Uint8Array([13, 10]);
const DEFAULT_MAX_HEADER = 65536;
/** After the refusal is flushed and our FIN sent, a peer that keeps its half of the connection open is cut off. */
const LINGER_MS = 5000;
const CONTENT_LENGTH_LINE = /^(?:content-length|l)[ \t]*:/i;
export const DEFAULT_MESSAGE_TIMEOUT_MS = 5000;
/**
 * A message still arriving when its time is up gets another period if at least this much of it came in during the
 * last one (32 KiB per 5 s ≈ 6.5 KB/s): a 1 MB MESSAGE over a slow uplink arrives whole, a sender trickling bytes to
 * hold the connection (and the memory of a half-received message) does not.
 */
export const MIN_PROGRESS_BYTES = 32 * 1024;
export const DEFAULT_MAX_PARTIAL_PER_SOURCE = 16;

/**
 * The request a refused message was starting, from its first bytes: the header section (up to the empty line, or
 * up to the last whole line within the header limit when the section never ended), without its Content-Length
 * (the framing problem itself), parsed as a bodiless message. Undefined when that is no addressable request.
 */
export function refusedRequest(bytes: Uint8Array, maxHeaderBytes = DEFAULT_MAX_HEADER): SipRequest | undefined {
  const end = findHeaderEnd(bytes);
  let section: Uint8Array;
  if (end >= 0 && end <= maxHeaderBytes) section = bytes.subarray(0, end);
  else {
    const window = bytes.subarray(0, Math.min(bytes.length, maxHeaderBytes));
    let cut = -1;
    for (let i = window.length - 2; i >= 0; i--) {
      if (window[i] === 13 && window[i + 1] === 10) {
        cut = i;
        break;
      }
    }
    if (cut <= 0) return undefined;
    section = window.subarray(0, cut);
  }
  const lines = Buffer.from(section.buffer, section.byteOffset, section.length).toString('latin1').split('\r\n');
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (i > 0 && CONTENT_LENGTH_LINE.test(lines[i])) {
      while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1])) i++; // and its folded continuation lines
      continue;
    }
    kept.push(lines[i]);
  }
  const parsed = parseSipMessage(Buffer.from(`${kept.join('\r\n')}\r\n\r\n`, 'latin1'), {
    datagram: true,
    maxHeaderBytes: Math.max(maxHeaderBytes, DEFAULT_MAX_HEADER),
  });
  // the same rule as for a malformed datagram: a request (never an ACK) with a Via to answer along
  const req = parsed.ok ? parsed.message : parsed.partial;
  return req instanceof SipRequest && req.method !== 'ACK' && req.topVia ? req : undefined;
}

export interface TcpSipTransportOptions extends FramerLimits {
  tls?: TlsOptions;
  /** Close a connection idle for this long (ms); 0 = never. */
  idleTimeoutMs?: number;
  maxConnections?: number;
  /** How long a message may take to arrive whole, from its first byte (ms); 0 = unbounded. Default 5000. */
  messageTimeoutMs?: number;
  /** Connections from one source IP that may hold a half-received message at once. Default 16. */
  maxPartialPerSource?: number;
}

export class TcpSipTransport implements SipTransport {
  readonly name: 'TCP' | 'TLS';
  private server?: Server;
  private handler: SipInbound = () => undefined;
  private readonly conns = new Map<string, { socket: Socket; flow: SipFlow }>();
  /** Source IP → connections from it holding a half-received message; an entry goes when its count is 0. */
  private readonly partials = new Map<string, number>();
  /** Connections closed for a slow message, or for too many half-received ones from their source (metrics, tests). */
  readonly dropped = { slow: 0, perSource: 0 };
  port = 0;

  constructor(private readonly opts: TcpSipTransportOptions = {}) {
    this.name = opts.tls ? 'TLS' : 'TCP';
  }

  onMessage(handler: SipInbound): void {
    this.handler = handler;
  }

  listen(port: number, host = '0.0.0.0'): Promise<number> {
    return new Promise((resolve, reject) => {
      const srv = this.opts.tls ? createTlsServer(this.opts.tls, (s) => this.attach(s)) : createServer((s) => this.attach(s));
      if (this.opts.maxConnections) srv.maxConnections = this.opts.maxConnections;
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.off('error', reject);
        this.server = srv;
        const a = srv.address();
        this.port = typeof a === 'object' && a ? a.port : port;
        resolve(this.port);
      });
    });
  }

  private attach(socket: Socket): SipFlow {
    socket.setNoDelay(true);
    const maxHeader = this.opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
    const address = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const port = socket.remotePort ?? 0;
    const key = `${address}:${port}`;
    const framer = new SipStreamFramer(this.opts);
    const flow: SipFlow = {
      transport: this.name,
      remoteAddress: address,
      remotePort: port,
      id: `${this.name.toLowerCase()}:${key}`,
      reliable: true,
      get open() {
        return !socket.destroyed && !socket.writableEnded;
      },
      onClose: (fn) => {
        if (socket.destroyed) queueMicrotask(fn);
        else socket.once('close', fn);
      },
      send: (bytes) => {
        // once the connection is being closed (a framing error), later answers are dropped, never thrown
        if (socket.destroyed || socket.writableEnded) return;
        // writes made in one tick leave in one writev (a response and a request often go together)
        if (socket.writableCorked === 0) {
          socket.cork();
          process.nextTick(() => socket.uncork());
        }
        socket.write(bytes);
      },
    };
    this.conns.set(key, { socket, flow });
    if (this.opts.idleTimeoutMs) socket.setTimeout(this.opts.idleTimeoutMs, () => socket.destroy());
    // The first bytes of the message the framer is in the middle of (it keeps its buffer to itself and drops it on
    // an error), so that a refused request can still be answered: `count` bytes of it came in earlier chunks, the
    // first `headLen` of them (at most a header section's worth) are kept in `head`.
    const headCap = maxHeader + 4;
    let head: Buffer[] = [];
    let headLen = 0;
    let count = 0;
    // the clock of the message in progress, and whether this connection counts against its source's allowance
    const messageTimeoutMs = this.opts.messageTimeoutMs ?? DEFAULT_MESSAGE_TIMEOUT_MS;
    const maxPartial = this.opts.maxPartialPerSource ?? DEFAULT_MAX_PARTIAL_PER_SOURCE;
    let deadline: NodeJS.Timeout | undefined;
    let counted = false;
    let gaveUp = false;
    const settle = () => {
      if (deadline) clearTimeout(deadline);
      deadline = undefined;
      if (counted) {
        counted = false;
        const n = (this.partials.get(address) ?? 1) - 1;
        if (n > 0) this.partials.set(address, n);
        else this.partials.delete(address);
      }
    };
    /** After a chunk: start the clock and take a slot when a message is now half-received; else give both back. */
    const track = (): boolean => {
      if (!framer.partial || framer.failed) {
        settle();
        return true;
      }
      if (!counted) {
        const n = this.partials.get(address) ?? 0;
        if (n >= maxPartial) {
          this.dropped.perSource++;
          gaveUp = true;
          socket.destroy();
          return false;
        }
        this.partials.set(address, n + 1);
        counted = true;
      }
      if (!deadline && messageTimeoutMs > 0) {
        const arm = (countAtArm: number) => {
          deadline = setTimeout(() => {
            deadline = undefined;
            if (socket.destroyed || gaveUp) return;
            if (count - countAtArm >= MIN_PROGRESS_BYTES) return arm(count); // still coming in at a fair rate
            gaveUp = true;
            this.dropped.slow++;
            settle();
            this.refuse(socket, flow, Buffer.concat(head), 408, 'Request Timeout', maxHeader, 0);
          }, messageTimeoutMs);
          deadline.unref();
        };
        arm(count);
      }
      return true;
    };
    socket.on('data', (chunk: Buffer) => {
      if (framer.failed || gaveUp) return; // the refusal is on its way; the rest is discarded
      const events = framer.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      let off = 0;
      // between messages the framer skips CRLFs (keep-alives): so does this bookkeeping
      const skipCrlf = () => {
        if (count === 0) while (off < chunk.length && (chunk[off] === 13 || chunk[off] === 10)) off++;
      };
      for (const ev of events) {
        if (ev.type === 'message') {
          skipCrlf();
          off = Math.min(chunk.length, off + ev.bytes.length - count);
          count = headLen = 0;
          head = [];
          // the next message's clock starts with its own first byte
          if (deadline) clearTimeout(deadline);
          deadline = undefined;
          this.handler(ev.bytes, flow);
        } else if (ev.type === 'ping') socket.write(PONG);
        else {
          skipCrlf();
          const refused = Buffer.concat([...head, chunk.subarray(off)]);
          head = [];
          settle();
          this.refuse(socket, flow, refused, ev.status, ev.reason, maxHeader);
          return;
        }
      }
      skipCrlf();
      const rest = chunk.length - off;
      if (rest > 0) {
        if (headLen < headCap) {
          const take = Math.min(rest, headCap - headLen);
          head.push(Buffer.from(chunk.subarray(off, off + take))); // a copy: the chunk is not ours to keep
          headLen += take;
        }
        count += rest;
      }
      track();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      settle();
      // only its own entry: an outgoing connection to the same address may have replaced it
      if (this.conns.get(key)?.socket === socket) this.conns.delete(key);
    });
    return flow;
  }

  /**
   * The framer refused the stream: answer the refused request with the framer's verdict when it can be addressed
   * (RFC 3261 §8.2.6, §18.2.1 received/rport), then close once that is flushed. Never throws.
   */
  private refuse(socket: Socket, flow: SipFlow, bytes: Uint8Array, status: number, reason: string, maxHeader: number, lingerMs = LINGER_MS): void {
    let answer: Uint8Array | undefined;
    try {
      const req = refusedRequest(bytes, maxHeader);
      if (req) {
        stampVia(req, flow.remoteAddress, flow.remotePort);
        answer = serializeSipMessage(createResponse(req, status, reason));
      }
    } catch {
      answer = undefined;
    }
    if (socket.destroyed) return;
    if (!socket.writableEnded) {
      if (answer) socket.end(answer);
      else socket.end();
    }
    socket.once('finish', () => {
      const t = setTimeout(() => socket.destroy(), lingerMs);
      t.unref();
      socket.once('close', () => clearTimeout(t));
    });
  }

  async flowTo(host: string, port: number): Promise<SipFlow> {
    const existing = this.conns.get(`${host}:${port}`);
    if (existing && !existing.socket.destroyed && !existing.socket.writableEnded) return existing.flow;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = this.opts.tls ? tlsConnect({ host, port, rejectUnauthorized: false }) : createConnection({ host, port });
      s.once('error', reject);
      s.once(this.opts.tls ? 'secureConnect' : 'connect', () => {
        s.off('error', reject);
        resolve(s);
      });
    });
    return this.attach(socket);
  }

  /** Open connections, and source IPs holding half-received messages (bounded maps: tests and metrics read them). */
  get size(): { connections: number; partialSources: number } {
    return { connections: this.conns.size, partialSources: this.partials.size };
  }

  close(): Promise<void> {
    for (const { socket } of this.conns.values()) socket.destroy();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
