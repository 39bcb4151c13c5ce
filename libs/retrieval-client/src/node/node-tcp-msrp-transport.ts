/** MSRP over TCP (RFC 4975 §6) in Node, passive: the client listens and the server connects. */
import { createServer, Server, Socket } from 'node:net';
import { MsrpConnection, SessionDirectory } from '@imc/msrp';
import type { MsrpOfferSide, MsrpTransport } from '../msrp-transport';

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
