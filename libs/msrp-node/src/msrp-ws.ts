/**
 * MSRP over WebSocket (RFC 7977): subprotocol `msrp` (§4.1), one or more MSRP frames per WebSocket message. As over
 * TCP, a connection that has bound no session within `bindTimeoutMs` is closed, and at most `unbound`'s allowance of
 * such connections may be open per source address and in total (the next is closed at once).
 */
import { createServer, Server } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { MsrpConnection, MsrpConnectionEvents, MsrpParserLimits, SessionDirectory } from '@imc/msrp';
import { UnboundLimiter } from './unbound-limiter';

function wire(ws: WebSocket, directory: SessionDirectory, events: MsrpConnectionEvents, limits: MsrpParserLimits, peer = '', secure = false, onEnd?: () => void): MsrpConnection {
  const conn = new MsrpConnection(
    (b) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(b);
    },
    () => {
      onEnd?.(); // a refused or timed-out connection gives its slot back as it ends
      ws.close();
    },
    directory,
    events,
    limits,
    { scheme: secure ? 'msrps' : 'msrp', transport: 'ws', peer },
  );
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    conn.push(new Uint8Array(buf.buffer, buf.byteOffset, buf.length));
  });
  ws.on('error', () => ws.terminate());
  ws.on('close', () => conn.end());
  return conn;
}

function closeUnbound(ws: WebSocket, conn: MsrpConnection, events: MsrpConnectionEvents, ms: number, peer: string): void {
  if (ms <= 0) return;
  const t = setTimeout(() => {
    if (!conn.wasBound && !conn.isEnded) {
      events.onRefused?.({ status: 0, reason: `no session bound within ${ms} ms`, peer });
      conn.end();
      ws.terminate();
    }
  }, ms);
  t.unref();
  ws.once('close', () => clearTimeout(t));
}

export class MsrpWsServer {
  private http?: Server;
  private wss?: WebSocketServer;
  port = 0;

  constructor(
    private readonly directory: SessionDirectory,
    private readonly events: MsrpConnectionEvents = {},
    private readonly limits: MsrpParserLimits = {},
    private readonly options: { bindTimeoutMs?: number; unbound?: UnboundLimiter } = {},
  ) {
    this.unbound = options.unbound ?? new UnboundLimiter();
  }

  /** The allowance of connections without a bound session this listener draws on. */
  readonly unbound: UnboundLimiter;

  listen(port: number, host = '0.0.0.0'): Promise<number> {
    const http = createServer((_req, res) => {
      res.writeHead(426, { upgrade: 'websocket' });
      res.end('MSRP over WebSocket (RFC 7977): connect with subprotocol "msrp"\n');
    });
    // a client sends responses, REPORTs and small requests; ws collects a whole message before the MSRP parser (and
    // its binding check) sees it, so an unbound peer could otherwise hold up to this much each (the caps bound how many)
    this.wss = new WebSocketServer({ server: http, maxPayload: 2 * 1024 * 1024, handleProtocols: (p) => (p.has('msrp') ? 'msrp' : false) });
    this.wss.on('connection', (ws, req) => {
      const peer = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
      const slot = this.unbound.acquire(req.socket.remoteAddress ?? '');
      if (!slot.ok) {
        this.events.onRefused?.({ status: 0, reason: slot.reason, peer });
        return ws.terminate();
      }
      ws.once('close', slot.release);
      const events: MsrpConnectionEvents = {
        ...this.events,
        onBound: (s) => {
          slot.release();
          this.events.onBound?.(s);
        },
      };
      closeUnbound(ws, wire(ws, this.directory, events, this.limits, peer, false, slot.release), this.events, this.options.bindTimeoutMs ?? 30000, peer);
    });
    return new Promise((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, host, () => {
        http.off('error', reject);
        this.http = http;
        const a = http.address();
        this.port = typeof a === 'object' && a ? a.port : port;
        resolve(this.port);
      });
    });
  }

  close(): Promise<void> {
    for (const c of this.wss?.clients ?? []) c.terminate();
    this.wss?.close();
    return new Promise((resolve) => (this.http ? this.http.close(() => resolve()) : resolve()));
  }
}

export function connectMsrpWs(url: string, directory: SessionDirectory, events: MsrpConnectionEvents = {}, limits: MsrpParserLimits = {}): Promise<MsrpConnection> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'msrp');
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      resolve(wire(ws, directory, events, limits, url, url.startsWith('wss:')));
    });
  });
}
