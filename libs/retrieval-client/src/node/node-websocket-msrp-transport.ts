/** MSRP over WebSocket (RFC 7977) in Node, through `libs/msrp-node`'s connector: the client is active (§5). */
import type { MsrpConnection, SessionDirectory } from '@imc/msrp';
import { connectMsrpWs } from '@imc/msrp-node';
import type { MsrpOfferSide, MsrpTransport } from '../msrp-transport';
import { webSocketOfferSide, webSocketUrlOf } from '../websocket-msrp-transport';

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
