/**
 * MSRP over WebSocket (RFC 7977) through the platform's `WebSocket` (a browser's, or any object of that shape):
 * the client is always active and its path host is an .invalid name (§5); subprotocol "msrp" (§4.1).
 */
import { MsrpConnection, SessionDirectory } from '@imc/msrp';
import type { MsrpOfferSide, MsrpTransport } from './msrp-transport';

/** The `ws(s)://host:port` of an answer's `msrp(s)://host:port/…;ws` path. */
export function webSocketUrlOf(path: string): string {
  const host = /^msrps?:\/\/([^/]+)\//.exec(path)?.[1];
  if (!host) throw new Error(`the answer's path is not an MSRP URI (${path})`);
  return `${path.startsWith('msrps:') ? 'wss' : 'ws'}://${host}`;
}

/** The offer side of every WebSocket client (RFC 7977 §5). */
export function webSocketOfferSide(sessionId: string): MsrpOfferSide {
  return { localPath: `msrp://${sessionId}.invalid:9/${sessionId};ws`, protocol: 'TCP/WS/MSRP', port: 9, setup: 'active', address: `${sessionId}.invalid` };
}

export class WebSocketMsrpTransport implements MsrpTransport {
  private conn?: MsrpConnection;

  async prepare(sessionId: string): Promise<MsrpOfferSide> {
    return webSocketOfferSide(sessionId);
  }

  connect(answer: { path: string }, directory: SessionDirectory): Promise<MsrpConnection> {
    const url = webSocketUrlOf(answer.path);
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, 'msrp');
      ws.binaryType = 'arraybuffer';
      const conn = new MsrpConnection(
        (b) => {
          if (ws.readyState === WebSocket.OPEN) ws.send(b);
        },
        () => ws.close(),
        directory,
      );
      ws.onmessage = (e) => conn.push(typeof e.data === 'string' ? new TextEncoder().encode(e.data) : new Uint8Array(e.data as ArrayBuffer));
      ws.onclose = () => conn.end();
      ws.onerror = () => reject(new Error(`MSRP WebSocket ${url} failed`));
      ws.onopen = () => resolve((this.conn = conn));
    });
  }

  close(): void {
    this.conn?.end();
  }
}
