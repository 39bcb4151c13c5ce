/**
 * Pager-mode MESSAGE (RFC 3428) to a user of this domain: relayed at once to a registered contact over the flow it
 * registered on (the proxy behaviour of RFC 3428 §7), else deposited as a deferred message (docs/retrieval-flow.md
 * "Deposit") and the recipient's message-summary subscriptions notified. A message/cpim body's IMDN request
 * (`imdn.Message-ID`, `imdn.Disposition-Notification`, RFC 5438 §6) is read with libs/msrp's CPIM parser and kept
 * beside the message; a deposit that is itself an IMDN (a recipient's `displayed`) is stored as a free receipt.
 */
import { checkSubscriber } from '@imc/ch2';
import { unwrapCpim } from '@imc/msrp';
import { aorOf, parseUri, SipRequest } from '@imc/sip';
import type { ImServerConfig } from '../../config';
import type { DeferredStore } from '../../store/deferred-store';
import type { Binding, UserStore } from '../../store/user-store';
import type { ImMetrics } from '../../observability/im-metrics';
import type { SipAuthenticator } from '../../auth/sip-authenticator';
import type { ServerTx } from '../sip-context';
import type { SipFrontLookups, SipFrontPort } from '../sip-port';
import type { SipHandler } from '../sip-router';
import { buildPagerMessage } from '../pager-request';
import { receiptDepositOf } from '../../receipts/imdn-receipt';
import type { MailboxWatchers } from './message-summary.handler';

export class PagerHandler implements SipHandler {
  readonly methods = ['MESSAGE'] as const;

  constructor(
    private readonly config: ImServerConfig,
    private readonly sip: SipFrontPort & SipFrontLookups,
    private readonly store: DeferredStore,
    private readonly users: UserStore,
    private readonly metrics: ImMetrics,
    private readonly auth: SipAuthenticator,
    private readonly watchers: MailboxWatchers,
  ) {}

  private warning(text: string): [string, string] {
    return ['Warning', `399 ${this.config.advertisedHost} "${text}"`];
  }

  async handle(tx: ServerTx): Promise<void> {
    const req = tx.request;
    const target = parseUri(req.uri);
    if (!target || target.host !== this.config.domain || !target.user) return void tx.respond(404, 'Not Found', { headers: [this.warning(`not a user of ${this.config.domain}`)] });
    // the recipient passes the same subscriber check as every other interface (a 10 KB user is no mailbox)
    const recipient = checkSubscriber('Request-URI', aorOf(target), { schemes: ['sip', 'sips'], domain: this.config.domain });
    if (!recipient.ok) return void tx.respond(404, 'Not Found', { headers: [this.warning(recipient.problem)] });
    const aor = recipient.value;
    if (req.get('max-forwards')?.trim() === '0') return void tx.respond(483, 'Too Many Hops');
    if (req.body.length > this.config.maxMessageBytes) return void tx.respond(513, 'Message Too Large');
    if (!req.contentType || req.body.length === 0) return void tx.respond(415, 'Unsupported Media Type', { headers: [['Accept', '*/*']] });
    const sender = await this.auth.authenticate(tx, this.config.depositAuth);
    if (!sender) return;
    if (this.config.depositAuth === 'digest' && !(await this.users.exists(aor))) return void tx.respond(404, 'Not Found', { headers: [this.warning('no such user')] });

    // a registered recipient gets it now (RFC 3428 §7 proxy behaviour); a failed attempt is stored instead
    for (const b of await this.users.bindings(aor)) {
      const status = await this.forward(req, b, sender);
      if (status !== undefined && status >= 200 && status < 300) return void tx.respond(status, 'OK');
    }
    const contentType = req.get('content-type')!;
    const cpim = req.contentType === 'message/cpim' ? unwrapCpim(req.body) : undefined;
    // a recipient's own IMDN (`displayed`) to an offline sender: stored as a receipt, free, asking for nothing
    const rc = receiptDepositOf(contentType, req.body);
    const imdn = rc
      ? { receipt: true as const, imdnMessageId: rc.imdnMessageId ?? cpim?.imdnMessageId }
      : { imdnMessageId: cpim?.imdnMessageId, disposition: cpim?.dispositionNotification };
    const stored = await this.store.deposit(aor, { from: sender, to: aor, contentType, body: req.body, ...imdn });
    if (!stored.ok) return void tx.respond(stored.status, stored.status === 486 ? 'Busy Here' : 'Message Too Large', { headers: [this.warning(stored.reason)] });
    this.metrics.deposited();
    tx.respond(202, 'Accepted');
    void this.watchers.notifyWaiting(aor);
  }

  /** Relays a MESSAGE to a registered contact over the flow it registered on; undefined when unreachable. */
  private async forward(req: SipRequest, b: Binding, sender: string): Promise<number | undefined> {
    const flow = await this.sip.flowTo(b);
    if (!flow) return undefined;
    const fwd = buildPagerMessage(this.sip, this.config.advertisedHost, { contact: b.contact, flow, from: sender, toHeader: req.get('to')!, contentType: req.get('content-type')!, body: req.body });
    const status = await this.sip.send(fwd, flow);
    return status === 'timeout' ? undefined : status;
  }
}
