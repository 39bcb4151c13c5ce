/**
 * The retrieval's MSRP transports in Node (the CLI, the tests): over WebSocket (RFC 7977) and over TLS (`msrps`,
 * RFC 4975 §14) the client connects; over TCP it listens and the server connects (our offer a=setup:passive, RFC
 * 6135). Imported as `@imc/retrieval-client/node-msrp-transports`, never from the browser-safe index.
 */
import { createServer, Server, Socket } from 'node:net';
import { WebSocket as WsWebSocket } from 'ws';
import { MsrpConnection, SessionDirectory } from '@imc/msrp';
import { connectMsrpTls, connectMsrpWs } from '@imc/msrp-node';
import type { MsrpOfferSide, MsrpTransport } from './msrp-transport';
import { webSocketOfferSide, webSocketUrlOf } from './websocket-msrp-transport';

/** sip.js expects a browser-like global `WebSocket`: in Node, the `ws` package's (protocol-notes.md §8). */
export function installNodeWebSocket(): void {
  const g = globalThis as { WebSocket?: unknown };
  if (!g.WebSocket) g.WebSocket = WsWebSocket;
}

export class NodeWebSocketMsrpTransport implements MsrpTransport {
  private conn?: MsrpConnection;
  async prepare(sessionId: string): Promise<MsrpOfferSide> {
    return webSocketOfferSide(sessionId);
  }
  async connect(answer: { path: string }, directory: SessionDirectory): Promise<MsrpConnection> {
    return (this.conn = await connectMsrpWs(webSocketUrlOf(answer.path), directory));
  }
  close(): void {
    this.conn?.end();
  }
}

/**
 * Connects to the answer's `msrps://host:port/…;tcp` path and checks the server's certificate against the answer's
 * a=fingerprint (RFC 4572 §5), or against the trusted CAs (`ca`) when the answer carries none.
 */
export class NodeTlsMsrpTransport implements MsrpTransport {
  private conn?: MsrpConnection;
  constructor(private readonly ca?: string) {}
  async prepare(sessionId: string): Promise<MsrpOfferSide> {
    return { localPath: `msrps://${sessionId}.invalid:9/${sessionId};tcp`, protocol: 'TCP/TLS/MSRP', port: 9, setup: 'active', address: '127.0.0.1' };
  }
  async connect(answer: { path: string; sdp: string }, directory: SessionDirectory): Promise<MsrpConnection> {
    const m = /^msrps:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\//i.exec(answer.path);
    if (!m) throw new Error(`the answer to a TCP/TLS/MSRP offer carried no msrps path (${answer.path})`);
    const fp = /^a=fingerprint:(\S+) (\S+)/m.exec(answer.sdp);
    const verifyPeer = fp
      ? (cert: { fingerprint256?: string; fingerprint?: string }) => {
          const hash = fp[1].toLowerCase();
          const got = hash === 'sha-256' ? cert.fingerprint256 : hash === 'sha-1' ? cert.fingerprint : undefined;
          return got?.toUpperCase() === fp[2].toUpperCase() ? undefined : new Error('the server certificate does not match the a=fingerprint of its answer (RFC 4572)');
        }
      : undefined;
    return (this.conn = await connectMsrpTls(m[1].replace(/^\[|\]$/g, ''), Number(m[2]), directory, {}, {}, { verifyPeer, ca: this.ca }));
  }
  close(): void {
    this.conn?.end();
  }
}

/** Listens on 127.0.0.1 (RFC 6135: our offer a=setup:passive, the server answers active and connects). */
export class NodeTcpMsrpTransport implements MsrpTransport {
  private server?: Server;
  private conn?: MsrpConnection;
  private directory?: SessionDirectory;

  async prepare(sessionId: string): Promise<MsrpOfferSide> {
    const server = createServer((sock) => this.accept(sock));
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    return { localPath: `msrp://127.0.0.1:${port}/${sessionId};tcp`, protocol: 'TCP/MSRP', port, setup: 'passive', address: '127.0.0.1' };
  }

  async connect(_answer: { path: string }, directory: SessionDirectory): Promise<undefined> {
    this.directory = directory;
    return undefined;
  }

  close(): void {
    this.conn?.end();
    this.server?.close();
  }

  private accept(sock: Socket): void {
    const c = new MsrpConnection((b) => sock.write(b), () => sock.end(), { find: (id) => this.directory?.find(id) });
    sock.on('data', (d: Buffer) => c.push(new Uint8Array(d.buffer, d.byteOffset, d.length)));
    sock.on('close', () => c.end());
    sock.on('error', () => sock.destroy());
    this.conn = c;
  }
}
