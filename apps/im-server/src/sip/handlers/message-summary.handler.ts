/**
 * Message-summary subscriptions (RFC 3842 over RFC 6665): a user watches their own mailbox with SUBSCRIBE and gets a
 * NOTIFY with the count of waiting messages at once, then whenever the mailbox changes (`notifyWaiting`: a deposit,
 * a registration, a retrieval). Subscriptions live in this process, each on the flow it came from.
 */
import { aorOf, Dialog, parseUri, randomToken } from '@imc/sip';
import type { SipFlow } from '@imc/sip-node';
import type { ImServerConfig } from '../../config';
import type { DeferredStore } from '../../store/deferred-store';
import type { SipAuthenticator } from '../../auth/sip-authenticator';
import type { ServerTx } from '../sip-context';
import type { SipFrontPort } from '../sip-port';
import type { SipHandler } from '../sip-router';

/** Whoever must hear that a user's mailbox changed. */
export interface MailboxWatchers {
  notifyWaiting(aor: string): Promise<void>;
}

interface Subscription {
  dialog: Dialog;
  flow: SipFlow;
  expiresAt: number;
  transport: string;
}

export class MessageSummaryHandler implements SipHandler, MailboxWatchers {
  readonly methods = ['SUBSCRIBE'] as const;
  private readonly subscriptions = new Map<string, Subscription[]>();

  constructor(
    private readonly config: ImServerConfig,
    private readonly sip: SipFrontPort,
    private readonly store: DeferredStore,
    private readonly auth: SipAuthenticator,
  ) {}

  sizes(): Record<string, number> {
    return { subscriptions: this.subscriptions.size };
  }

  async handle(tx: ServerTx): Promise<void> {
    const req = tx.request;
    if ((req.get('event') ?? '').split(';')[0].trim().toLowerCase() !== 'message-summary')
      return void tx.respond(489, 'Bad Event', { headers: [['Allow-Events', 'message-summary']] });
    const aor = await this.auth.authenticate(tx, this.config.auth);
    if (!aor) return;
    // an in-dialog SUBSCRIBE (refresh or unsubscribe, RFC 6665 §4.1.2) is addressed to our Contact, not the AOR
    const inDialog = req.to?.params.tag ? (this.subscriptions.get(aor) ?? []).find((x) => x.dialog.matches(req)) : undefined;
    const target = parseUri(req.uri);
    if (!inDialog && (!target || aorOf(target) !== aor))
      return void tx.respond(403, 'Forbidden', { headers: [['Warning', `399 ${this.config.advertisedHost} "may only watch your own mailbox"`]] });
    const expires = Math.min(Number(req.get('expires') ?? 3600), 86400);
    const localTag = req.to?.params.tag ?? randomToken(this.sip.random);
    const dialog = inDialog?.dialog ?? Dialog.fromInvite(req, localTag, this.sip.random);
    if (!dialog) return void tx.respond(400, 'Missing From Tag');
    const sub: Subscription = { dialog, flow: tx.flow, expiresAt: Date.now() + expires * 1000, transport: tx.flow.transport };
    const list = (this.subscriptions.get(aor) ?? []).filter((x) => x !== inDialog && x.expiresAt > Date.now());
    if (expires > 0) list.push(sub);
    if (list.length) this.subscriptions.set(aor, list);
    else this.subscriptions.delete(aor); // nobody watches: the user's entry goes too
    tx.respond(200, 'OK', { toTag: localTag, headers: [['Expires', String(expires)], ['Contact', `<sip:${this.config.advertisedHost}:${this.sip.viaFor(tx.flow).port};transport=${tx.flow.transport.toLowerCase()}>`]] });
    // RFC 6665 §4.2.1.2: a NOTIFY with the current state at once (terminated when this was an unsubscribe)
    void this.sendSummary(aor, sub, expires === 0);
  }

  /** NOTIFY every live subscription of a user with the current count. */
  async notifyWaiting(aor: string): Promise<void> {
    const subs = (this.subscriptions.get(aor) ?? []).filter((s) => s.expiresAt > Date.now() && s.flow.open);
    for (const s of subs) await this.sendSummary(aor, s, false);
  }

  private async sendSummary(aor: string, s: Subscription, terminated: boolean): Promise<void> {
    const waiting = await this.store.count(aor);
    const notify = s.dialog.createRequest('NOTIFY', this.sip.viaFor(s.flow));
    notify.add('Event', 'message-summary');
    notify.add('Subscription-State', terminated ? 'terminated;reason=timeout' : `active;expires=${Math.max(0, Math.round((s.expiresAt - Date.now()) / 1000))}`);
    notify.add('Content-Type', 'application/simple-message-summary');
    notify.add('Contact', `<sip:${this.config.advertisedHost}:${this.sip.viaFor(s.flow).port}>`);
    // RFC 3842 §5.2: Messages-Waiting, Message-Account, and a count per message-context-class (RFC 3458 text-message)
    notify.body = new TextEncoder().encode(`Messages-Waiting: ${waiting > 0 ? 'yes' : 'no'}\r\nMessage-Account: ${aor}\r\nText-Message: ${waiting}/0\r\n`);
    await this.sip.send(notify, s.flow);
  }
}
