/** A registered user's phone for receipt tests: a real UDP socket that answers each SIP MESSAGE and keeps it. */
import { createSocket, Socket } from 'node:dgram';
import { nodeRandom } from '@imc/msrp-node';
import { createResponse, parseSipMessage, serializeSipMessage, SipRequest } from '@imc/sip';

export class UdpPhone {
  readonly got: SipRequest[] = [];
  private sock!: Socket;
  port = 0;
  constructor(public status = 200) {}
  async start(): Promise<void> {
    this.sock = createSocket('udp4');
    this.sock.on('message', (buf, rinfo) => {
      const p = parseSipMessage(new Uint8Array(buf), { datagram: true });
      if (!p.ok || !(p.message instanceof SipRequest)) return;
      if (!this.got.some((g) => g.callId === p.message.callId)) this.got.push(p.message as SipRequest);
      this.sock.send(serializeSipMessage(createResponse(p.message as SipRequest, this.status, this.status === 200 ? 'OK' : 'Temporarily Unavailable', { random: nodeRandom })), rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', r));
    this.port = this.sock.address().port;
  }
  close(): Promise<void> {
    return new Promise((r) => this.sock.close(() => r()));
  }
}

/** Binds `aor` to the phone on `port` (a UDP registration, as the registrar would store it). */
export function phoneBinding(aor: string, port: number) {
  return { contact: `sip:${aor.slice(4, aor.indexOf('@'))}@127.0.0.1:${port}`, expiresAt: Date.now() + 60000, flowId: `udp:127.0.0.1:${port}`, transport: 'UDP', address: '127.0.0.1', port };
}
