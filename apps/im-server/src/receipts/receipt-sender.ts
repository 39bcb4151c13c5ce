/**
 * Sends a receipt to a registered sender as a pager-mode SIP MESSAGE (RFC 3428) through the SIP front's port, to
 * each live binding in turn until one answers 2xx — the way the pager handler relays a MESSAGE to a registered
 * recipient (sip/handlers/pager.handler.ts `forward`; both build it with sip/pager-request.ts). The flow of a
 * binding comes from `flowFor` — the front's `SipFrontLookups.flowTo`: the connection the binding registered on
 * while it is open, or a UDP flow to its address.
 */
import type { SipFlow } from '@imc/sip-node';
import { buildPagerMessage } from '../sip/pager-request';
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
      const req = buildPagerMessage(this.sip, this.advertisedHost, { contact: b.contact, flow, from, toHeader: `<${to}>`, contentType: 'message/cpim', body: cpim });
      const status = await this.sip.send(req, flow);
      if (typeof status === 'number' && status >= 200 && status < 300) return true;
    }
    return false;
  }
}
