/** A client's MSRP side for SIPp retrievals (SIPp speaks SIP only): a listener the im-server connects to. */
import { createServer, Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { MsrpConnection, MsrpSession, IncomingMessage } from '@imc/msrp';
import { nodeMsrpClock, nodeRandom } from '@imc/msrp-node';

/** The client's MSRP side of a SIPp retrieval: listens; the im-server connects (a=setup:passive offer). */
export async function msrpListener(): Promise<{ port: number; sid: string; got: IncomingMessage[]; close(): void; server: Server }> {
  const sid = randomBytes(6).toString('hex');
  const got: IncomingMessage[] = [];
  let session: MsrpSession | undefined;
  const server = createServer((sock) => {
    const c = new MsrpConnection((b) => sock.write(b), () => sock.end(), {
      find: (id, fromPath) => {
        if (id !== sid) return undefined;
        if (!session) {
          // the server's path is in the SDP answer SIPp received; the first frame's From-Path carries it too
          session = new MsrpSession({ localPath: `msrp://127.0.0.1:${port}/${sid};tcp`, remotePath: fromPath ?? '', clock: nodeMsrpClock, random: nodeRandom });
          session.onMessage((m) => got.push(m));
        }
        return session;
      },
    });
    sock.on('data', (d: Buffer) => c.push(new Uint8Array(d.buffer, d.byteOffset, d.length)));
    sock.on('close', () => c.end());
    sock.on('error', () => sock.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return { port, sid, got, server, close: () => server.close() };
}
