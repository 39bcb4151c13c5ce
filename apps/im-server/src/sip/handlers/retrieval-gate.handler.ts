/**
 * The gate of deferred retrieval (docs/retrieval-flow.md "Retrieval"): an INVITE to the deferred-messaging URI is
 * answered 100 Trying at once, checked (no re-INVITE, the right Request-URI, an authenticated identity, not
 * cancelled meanwhile) and handed to the `RetrievalHandler` with the caller's AOR. ACK, BYE and CANCEL of those
 * dialogs go to the same handler; a CANCEL that comes before its session exists is answered here (RFC 3261 §9.2).
 */
import { createResponse, InviteServerState, InviteServerTransaction, parseUri, SipRequest } from '@imc/sip';
import type { ImServerConfig } from '../../config';
import type { SipAuthenticator } from '../../auth/sip-authenticator';
import type { RetrievalHandler, ServerTx } from '../sip-context';
import type { SipFrontLookups, SipFrontPort } from '../sip-port';
import type { SipHandler } from '../sip-router';

export class RetrievalGateHandler implements SipHandler {
  readonly methods = ['INVITE', 'ACK', 'BYE', 'CANCEL'] as const;

  constructor(
    private readonly config: ImServerConfig,
    private readonly sip: SipFrontPort & SipFrontLookups,
    private readonly auth: SipAuthenticator,
    private readonly retrieval: RetrievalHandler,
  ) {}

  async handle(tx: ServerTx): Promise<void> {
    switch (tx.request.method) {
      case 'INVITE':
        return this.onInvite(tx);
      case 'BYE':
        if (!this.retrieval.onBye(tx)) tx.respond(481, 'Call/Transaction Does Not Exist');
        return;
      case 'CANCEL':
        return this.onCancel(tx);
    }
  }

  onAck(req: SipRequest): boolean {
    return this.retrieval.onAck(req);
  }

  private async onInvite(tx: ServerTx): Promise<void> {
    const req = tx.request;
    // RFC 3261 §17.2.1: send 100 Trying at once — identity, the store and charging take time
    tx.respond(100, 'Trying');
    if (req.to?.params.tag) return void tx.respond(488, 'Not Acceptable Here', { headers: [['Warning', `399 ${this.config.advertisedHost} "re-INVITE is not supported in a retrieval session"`]] });
    const target = parseUri(req.uri);
    if (!target || target.user !== this.config.deferredUser)
      return void tx.respond(404, 'Not Found', { headers: [['Warning', `399 ${this.config.advertisedHost} "only sip:${this.config.deferredUser}@${this.config.domain} takes INVITEs here"`]] });
    const aor = await this.auth.authenticate(tx, this.config.auth);
    if (!aor) return;
    if ((tx.tx as InviteServerTransaction).state !== InviteServerState.Proceeding) return; // cancelled meanwhile
    await this.retrieval.onInvite(tx, aor);
  }

  private onCancel(tx: ServerTx): void {
    const invite = this.sip.inviteFor(tx.request);
    if (!invite) return void tx.respond(481, 'Call/Transaction Does Not Exist');
    tx.respond(200, 'OK'); // §9.2: the CANCEL itself is answered 200, the INVITE then gets 487
    if (!this.retrieval.onCancel(invite) && invite.state === InviteServerState.Proceeding) {
      // cancelled before its retrieval session exists (e.g. while authenticating): answer 487 here
      invite.respond(createResponse(invite.request, 487, 'Request Terminated', { random: this.sip.random }));
    }
  }
}
