/**
 * Sends a receipt to a registered sender as a pager-mode SIP MESSAGE (RFC 3428) through the SIP front's port, to
 * each live binding in turn until one answers 2xx — the way the pager handler relays a MESSAGE to a registered
 * recipient (sip/handlers/pager.handler.ts `forward`, whose request building this repeats: the two are to be merged
 * into one builder on the port). The flow of a binding comes from `flowFor` — the front's `SipFrontLookups.flowTo`:
 * the connection the binding registered on while it is open, or a UDP flow to its address.
 */
import { BRANCH_BITS, CALL_ID_BITS, MAGIC_COOKIE, randomToken, SipRequest } from '@imc/sip';
import type { SipFlow } from '@imc/sip-node';
import type { SipFrontPort } from '../sip/sip-port';
import type { Binding } from '../store/user-store';

export type FlowLookup = (b: Binding) => Promise<SipFlow | undefined> | SipFlow | undefined;

export class ReceiptSender {
  constructor(
    private readonly sip: Pick<SipFrontPort, 'send' | 'viaFor' | 'random'>,
    private readonly flowFor: FlowLookup,
    private readonly advertisedHost: string,
  ) {}

  /** True once a binding answered 2xx; false when none could be reached or none accepted. */
  async send(bindings: readonly Binding[], from: string, to: string, cpim: Uint8Array): Promise<boolean> {
    for (const b of bindings) {
      const flow = await this.flowFor(b);
      if (!flow) continue;
      const status = await this.sip.send(this.message(b.contact, flow, from, to, cpim), flow);
      if (typeof status === 'number' && status >= 200 && status < 300) return true;
    }
    return false;
  }

  private message(contact: string, flow: SipFlow, from: string, to: string, cpim: Uint8Array): SipRequest {
    const r = this.sip.random;
    const via = this.sip.viaFor(flow);
    const m = new SipRequest('MESSAGE', contact);
    m.add('Via', `SIP/2.0/${via.transport} ${via.host}:${via.port};branch=${MAGIC_COOKIE}${randomToken(r, BRANCH_BITS)};rport`);
    m.add('Max-Forwards', '70');
    m.add('From', `<${from}>;tag=${randomToken(r)}`);
    m.add('To', `<${to}>`);
    m.add('Call-ID', `${randomToken(r, CALL_ID_BITS)}@${this.advertisedHost}`);
    m.add('CSeq', '1 MESSAGE');
    m.add('Content-Type', 'message/cpim');
    m.body = cpim;
    return m;
  }
}
