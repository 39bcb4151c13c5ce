/** MSRP over TLS (`msrps`, RFC 4975 §14) in Node, through `libs/msrp-node`'s connector: the client is active. */
import type { MsrpConnection, SessionDirectory } from '@imc/msrp';
import { connectMsrpTls, checkFingerprint, sdpFingerprint } from '@imc/msrp-node';
import type { MsrpOfferSide, MsrpTransport } from '../msrp-transport';

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
    const fp = sdpFingerprint(answer.sdp);
    const verifyPeer = fp ? (cert: { fingerprint256?: string; fingerprint?: string }) => checkFingerprint(fp, cert, 'the server certificate') : undefined;
    return (this.conn = await connectMsrpTls(m[1].replace(/^\[|\]$/g, ''), Number(m[2]), directory, {}, {}, { verifyPeer, ca: this.ca }));
  }
  close(): void {
    this.conn?.end();
  }
}
