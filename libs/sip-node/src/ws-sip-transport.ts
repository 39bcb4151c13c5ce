/**
 * SIP over WebSocket (RFC 7118): subprotocol `sip` (§4 "the WebSocket Protocol … MUST … include 'sip'"), one SIP
 * message per WebSocket message, so Content-Length is optional (§5.1). Text or binary frames are accepted.
 * Optionally shares an HTTP(S) server (e.g. the admin server) through `attachTo`.
 */
import { createServer, IncomingMessage, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TlsOptions } from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import { SipFlow, SipInbound, SipTransport } from './sip-flow';

export interface WsSipTransportOptions {
  tls?: TlsOptions;
  maxPayload?: number;
}

export class WsSipTransport implements SipTransport {
  readonly name: 'WS' | 'WSS';
  private http?: Server;
  private wss?: WebSocketServer;
  private handler: SipInbound = () => undefined;
  private readonly sockets = new Set<WebSocket>();
  port = 0;

  constructor(private readonly opts: WsSipTransportOptions = {}) {
    this.name = opts.tls ? 'WSS' : 'WS';
  }

  onMessage(handler: SipInbound): void {
    this.handler = handler;
  }

  listen(port: number, host = '0.0.0.0'): Promise<number> {
    const http = this.opts.tls ? createHttpsServer(this.opts.tls) : createServer();
    http.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end('SIP over WebSocket (RFC 7118): connect with subprotocol "sip"\n');
    });
    this.wss = new WebSocketServer({
      server: http,
      maxPayload: this.opts.maxPayload ?? 2 * 1024 * 1024,
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    this.wss.on('connection', (ws, req) => this.attach(ws, req));
    return new Promise((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, host, () => {
        http.off('error', reject);
        this.http = http as Server;
        const a = http.address();
        this.port = typeof a === 'object' && a ? a.port : port;
        resolve(this.port);
      });
    });
  }

  private attach(ws: WebSocket, req: IncomingMessage): void {
    const address = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const port = req.socket.remotePort ?? 0;
    this.sockets.add(ws);
    const flow: SipFlow = {
      transport: this.name,
      remoteAddress: address,
      remotePort: port,
      id: `ws:${address}:${port}`,
      reliable: true,
      get open() {
        return ws.readyState === WebSocket.OPEN;
      },
      onClose: (fn) => {
        if (ws.readyState === WebSocket.CLOSED) queueMicrotask(fn);
        else ws.once('close', fn);
      },
      send: (bytes) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
      },
    };
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      this.handler(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), flow);
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => this.sockets.delete(ws));
  }

  async flowTo(): Promise<SipFlow> {
    throw new Error('a WebSocket flow can only be reused, not opened by the server (RFC 7118 §5)');
  }

  close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    return new Promise((resolve) => {
      this.wss?.close();
      this.http ? this.http.close(() => resolve()) : resolve();
    });
  }
}
