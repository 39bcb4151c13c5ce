/** MSRP over TCP (RFC 4975 §6): a listener and a client connector that only move bytes into `MsrpConnection`. */
import { createConnection, createServer, Server, Socket } from 'node:net';
import { MsrpConnection, MsrpConnectionEvents, MsrpParserLimits, SessionDirectory } from '@imc/msrp';

function wire(socket: Socket, directory: SessionDirectory, events: MsrpConnectionEvents, limits: MsrpParserLimits): MsrpConnection {
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
    () => socket.end(),
    directory,
    events,
    limits,
  );
  socket.on('data', (d: Buffer) => conn.push(new Uint8Array(d.buffer, d.byteOffset, d.length)));
  socket.on('error', () => socket.destroy());
  socket.on('close', () => conn.end());
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
  ) {}

  listen(port: number, host = '0.0.0.0'): Promise<number> {
    return new Promise((resolve, reject) => {
      const srv = createServer((s) => {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        wire(s, this.directory, this.events, this.limits);
      });
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
      resolve(wire(s, directory, events, limits));
    });
  });
}
