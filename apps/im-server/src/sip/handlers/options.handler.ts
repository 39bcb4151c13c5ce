/** OPTIONS (RFC 3261 §11): what this server allows and accepts, answered at once to anybody (a keep-alive or a probe). */
import type { ServerTx } from '../sip-context';
import { ALLOW, type SipHandler } from '../sip-router';

export class OptionsHandler implements SipHandler {
  readonly methods = ['OPTIONS'] as const;

  handle(tx: ServerTx): void {
    tx.respond(200, 'OK', { headers: [['Allow', ALLOW], ['Accept', 'application/sdp, text/plain, message/cpim'], ['Supported', '']] });
  }
}
