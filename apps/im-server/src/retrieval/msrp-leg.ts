/**
 * The real MSRP leg of a retrieval: an `MsrpSession` (libs/msrp) registered in the service's directory so the
 * client's connection can bind to it, or — when we are the active side — bound over a connection we open
 * (msrp-endpoint.ts `connectToClient`). Sessions are send-only and owned by one user (a connection never carries
 * two users' sessions).
 */
import { MsrpConnection, MsrpMedia, MsrpSession, OutgoingMessage, SendOutcome } from '@imc/msrp';
import { nodeMsrpClock, nodeRandom } from '@imc/msrp-node';
import { connectToClient } from './msrp-endpoint';
import type { MsrpLeg, MsrpLegFactory } from './retrieval-ports';

export class NodeMsrpLeg implements MsrpLeg {
  private conn?: MsrpConnection;

  constructor(
    private readonly session: MsrpSession,
    private readonly unregister: (s: MsrpSession) => void,
  ) {}

  get id(): string {
    return this.session.id;
  }

  send(m: OutgoingMessage): Promise<SendOutcome> {
    return this.session.send(m);
  }

  async connect(media: MsrpMedia, onLost: () => void): Promise<number | 'timeout'> {
    this.conn = await connectToClient(media, { onLost });
    this.conn.adopt(this.session);
    return this.session.sendBind();
  }

  drain(): void {
    this.session.drain();
  }

  close(): void {
    this.session.close();
    this.unregister(this.session);
  }

  disconnect(): void {
    this.conn?.end();
  }
}

/** Opens legs registered through `register`/`unregister` (the service's MSRP directory). */
export function nodeMsrpLegs(register: (s: MsrpSession) => void, unregister: (s: MsrpSession) => void): MsrpLegFactory {
  return {
    open(o) {
      const session = new MsrpSession({ ...o, clock: nodeMsrpClock, random: nodeRandom, sendOnly: true });
      register(session);
      return new NodeMsrpLeg(session, unregister);
    },
  };
}
