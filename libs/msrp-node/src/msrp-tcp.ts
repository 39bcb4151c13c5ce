/**
 * MSRP over TCP (RFC 4975 §6) and over TLS (`msrps`, RFC 4975 §14): a listener and a client connector that only move
 * bytes into `MsrpConnection`. A connection that has bound no session within `bindTimeoutMs` of opening is closed
 * (§5.4: the active side sends its first request right after connecting), so idle sockets cannot pile up; and at
 * most `unbound`'s allowance of such connections may be open per source address and in total (the next is closed at
 * once). A first request is checked as soon as its headers are in (`MsrpConnection`), so an unbound connection never
 * holds a body.
 */
import { createConnection, createServer, Server, Socket } from 'node:net';
import { connect as tlsConnect, ConnectionOptions, createServer as createTlsServer, PeerCertificate, SecureContextOptions, TLSSocket } from 'node:tls';
import { MsrpConnection, MsrpConnectionEvents, MsrpParserLimits, SessionDirectory } from '@imc/msrp';
import { UnboundLimiter } from './unbound-limiter';

export interface MsrpTcpOptions {
  /** Certificate and key (PEM): the listener speaks TLS and binds only `msrps://…;tcp` sessions. */
  tls?: Pick<SecureContextOptions, 'cert' | 'key' | 'ca'>;
  /** Close a connection that has bound no session this long after it opened (default 30 s; 0 = never). */
  bindTimeoutMs?: number;
  /** A TLS handshake that does not finish this long after the TCP connection opened is dropped (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Connections without a bound session allowed per source and in total (shareable between listeners; default 16 / 1024). */
  unbound?: UnboundLimiter;
}

function peerOf(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

/**
 * An accepted connection takes a slot of `limiter` until it binds a session or ends; without one it is closed at
 * once (undefined is returned).
 */
function accept(socket: Socket, limiter: UnboundLimiter, directory: SessionDirectory, events: MsrpConnectionEvents, limits: MsrpParserLimits, secure: boolean, bindTimeoutMs: number): MsrpConnection | undefined {
  const slot = limiter.acquire(socket.remoteAddress ?? '');
  if (!slot.ok) {
    events.onRefused?.({ status: 0, reason: slot.reason, peer: peerOf(socket) });
    socket.destroy();
    return undefined;
  }
  socket.once('close', slot.release);
  const counted: MsrpConnectionEvents = {
    ...events,
    onBound: (s) => {
      slot.release();
      events.onBound?.(s);
    },
  };
  return wire(socket, directory, counted, limits, secure, bindTimeoutMs, slot.release);
}

function wire(socket: Socket, directory: SessionDirectory, events: MsrpConnectionEvents, limits: MsrpParserLimits, secure: boolean, bindTimeoutMs = 0, onEnd?: () => void): MsrpConnection {
  socket.setNoDelay(true);
  const conn = new MsrpConnection(
    (b) => {
      if (socket.destroyed) return;
      // frames written in one tick (chunks, responses) leave in one writev
      if (socket.writableCorked === 0) {
        socket.cork();
        process.nextTick(() => socket.uncork());
      }
      socket.write(b);
    },
    () => {
      onEnd?.(); // a refused or timed-out connection gives its slot back as it ends, before its socket has closed
      socket.end();
    },
    directory,
    events,
    limits,
    { scheme: secure ? 'msrps' : 'msrp', transport: 'tcp', peer: peerOf(socket) },
  );
  socket.on('data', (d: Buffer) => conn.push(new Uint8Array(d.buffer, d.byteOffset, d.length)));
  socket.on('error', () => socket.destroy());
  socket.on('close', () => conn.end());
  if (bindTimeoutMs > 0) {
    const t = setTimeout(() => {
      if (!conn.wasBound && !conn.isEnded) {
        events.onRefused?.({ status: 0, reason: `no session bound within ${bindTimeoutMs} ms`, peer: peerOf(socket) });
        conn.end();
        socket.destroy();
      }
    }, bindTimeoutMs);
    t.unref();
    socket.once('close', () => clearTimeout(t));
  }
  return conn;
}

export class MsrpTcpServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly directory: SessionDirectory,
    private readonly events: MsrpConnectionEvents = {},
    private readonly limits: MsrpParserLimits = {},
    private readonly options: MsrpTcpOptions = {},
  ) {
    this.unbound = options.unbound ?? new UnboundLimiter();
  }

  /** The allowance of connections without a bound session this listener draws on. */
  readonly unbound: UnboundLimiter;

  /** `msrps` when the listener has a certificate. */
  get secure(): boolean {
    return !!this.options.tls;
  }

  listen(port: number, host = '0.0.0.0'): Promise<number> {
    const bindTimeoutMs = this.options.bindTimeoutMs ?? 30000;
    const unbound = this.unbound;
    const track = (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    };
    return new Promise((resolve, reject) => {
      let srv: Server;
      if (this.options.tls) {
        const tls = createTlsServer({ ...this.options.tls, handshakeTimeout: this.options.handshakeTimeoutMs ?? 10000, minVersion: 'TLSv1.2' }, (s: TLSSocket) => {
          accept(s, unbound, this.directory, this.events, this.limits, true, bindTimeoutMs);
        });
        tls.on('connection', track); // the raw sockets, so close() also drops handshakes in progress
        tls.on('tlsClientError', (e: Error, s: TLSSocket) => {
          this.events.onRefused?.({ status: 0, reason: `TLS handshake failed (${e.message})`, peer: peerOf(s) });
          s.destroy();
        });
        srv = tls;
      } else {
        srv = createServer((s) => {
          track(s);
          accept(s, unbound, this.directory, this.events, this.limits, false, bindTimeoutMs);
        });
      }
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

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

export function connectMsrpTcp(
  host: string,
  port: number,
  directory: SessionDirectory,
  events: MsrpConnectionEvents = {},
  limits: MsrpParserLimits = {},
): Promise<MsrpConnection> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host, port });
    s.once('error', reject);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(wire(s, directory, events, limits, false));
    });
  });
}

export interface MsrpTlsConnectOptions extends ConnectionOptions {
  /**
   * Verifies the peer's certificate instead of the CA chain and host name — e.g. against the SDP `a=fingerprint`
   * (RFC 4572 §5) for a self-signed peer. An Error refuses the connection.
   */
  verifyPeer?: (cert: PeerCertificate) => Error | undefined;
}

/**
 * Connects over TLS to an `msrps://…;tcp` path (RFC 4975 §14). By default the peer's certificate must chain to a
 * trusted CA and name `host` (§14.2); `verifyPeer` replaces that check (e.g. the SDP fingerprint).
 */
export function connectMsrpTls(
  host: string,
  port: number,
  directory: SessionDirectory,
  events: MsrpConnectionEvents = {},
  limits: MsrpParserLimits = {},
  tls: MsrpTlsConnectOptions = {},
): Promise<MsrpConnection> {
  const { verifyPeer, ...options } = tls;
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      host,
      port,
      servername: /^[\d.]+$|:/.test(host) ? undefined : host,
      minVersion: 'TLSv1.2',
      ...options,
      ...(verifyPeer ? { rejectUnauthorized: false } : {}),
    });
    s.once('error', reject);
    s.once('secureConnect', () => {
      s.off('error', reject);
      const refused = verifyPeer?.(s.getPeerCertificate());
      if (refused) {
        s.destroy();
        return reject(refused);
      }
      resolve(wire(s, directory, events, limits, true));
    });
  });
}
