/**
 * SIP over TCP (and TLS when a certificate is given): each connection runs a `SipStreamFramer`; a framing error
 * closes the connection after the framer's verdict (RFC 3261 §18.3: no resynchronisation on a stream). CRLFCRLF
 * keep-alive pings are answered with CRLF (RFC 5626 §3.5.1). Open connections are reused to reach their peer.
 */
import { createConnection, createServer, Server, Socket } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect, TlsOptions } from 'node:tls';
import { SipStreamFramer, FramerLimits } from '@imc/sip';
import { SipFlow, SipInbound, SipTransport } from './sip-flow';

const PONG = new Uint8Array([13, 10]);

export interface TcpSipTransportOptions extends FramerLimits {
  tls?: TlsOptions;
  /** Close a connection idle for this long (ms); 0 = never. */
  idleTimeoutMs?: number;
  maxConnections?: number;
}

export class TcpSipTransport implements SipTransport {
  readonly name: 'TCP' | 'TLS';
  private server?: Server;
  private handler: SipInbound = () => undefined;
  private readonly conns = new Map<string, { socket: Socket; flow: SipFlow }>();
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
        return !socket.destroyed;
      },
      send: (bytes) => {
        if (socket.destroyed) return;
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
    socket.on('data', (chunk: Buffer) => {
      for (const ev of framer.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))) {
        if (ev.type === 'message') this.handler(ev.bytes, flow);
        else if (ev.type === 'ping') socket.write(PONG);
        else {
          socket.end();
          return;
        }
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.conns.delete(key));
    return flow;
  }

  async flowTo(host: string, port: number): Promise<SipFlow> {
    const existing = this.conns.get(`${host}:${port}`);
    if (existing && !existing.socket.destroyed) return existing.flow;
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

  close(): Promise<void> {
    for (const { socket } of this.conns.values()) socket.destroy();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
