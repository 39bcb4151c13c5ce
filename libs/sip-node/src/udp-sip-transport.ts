/** SIP over UDP (RFC 3261 §18): one message per datagram; answers leave from the receiving socket (RFC 3581 §4). */
import { createSocket, Socket } from 'node:dgram';
import { SipFlow, SipInbound, SipTransport } from './sip-flow';

export class UdpSipTransport implements SipTransport {
  readonly name = 'UDP' as const;
  private socket?: Socket;
  private handler: SipInbound = () => undefined;
  port = 0;
  private closed = false;

  onMessage(handler: SipInbound): void {
    this.handler = handler;
  }

  listen(port: number, host = '0.0.0.0'): Promise<number> {
    return new Promise((resolve, reject) => {
      const s = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 * 1024 * 1024 });
      s.once('error', reject);
      s.on('message', (buf, rinfo) => this.handler(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), this.flow(rinfo.address, rinfo.port)));
      s.bind(port, host, () => {
        s.off('error', reject);
        s.on('error', () => undefined); // ICMP errors on send: the transaction timers handle the loss
        this.socket = s;
        this.port = s.address().port;
        resolve(this.port);
      });
    });
  }

  private flow(address: string, port: number): SipFlow {
    const socket = this.socket!;
    return {
      transport: 'UDP',
      remoteAddress: address,
      remotePort: port,
      id: `udp:${address}:${port}`,
      reliable: false,
      open: true,
      send: (bytes) => {
        // a retransmission timer may still fire after close: the datagram is dropped, never thrown
        if (this.closed) return;
        socket.send(bytes, port, address, () => undefined);
      },
    };
  }

  async flowTo(host: string, port: number): Promise<SipFlow> {
    return this.flow(host, port);
  }

  close(): Promise<void> {
    this.closed = true;
    return new Promise((resolve) => (this.socket ? this.socket.close(() => resolve()) : resolve()));
  }
}
