/**
 * The registrar (RFC 3261 §10.3): an authenticated user binds, refreshes or removes contacts of their own address;
 * each binding remembers the flow it came on, so a MESSAGE can be relayed over it (`pager.handler.ts`). A user who
 * registers is told at once how many messages wait (`MailboxWatchers`, the message-summary handler).
 */
import { aorOf } from '@imc/sip';
import type { ImServerConfig } from '../../config';
import type { UserStore } from '../../store/user-store';
import type { SipAuthenticator } from '../../auth/sip-authenticator';
import type { ServerTx } from '../sip-context';
import type { SipHandler } from '../sip-router';
import type { MailboxWatchers } from './message-summary.handler';

export class RegistrarHandler implements SipHandler {
  readonly methods = ['REGISTER'] as const;

  constructor(
    private readonly config: ImServerConfig,
    private readonly users: UserStore,
    private readonly auth: SipAuthenticator,
    private readonly watchers: MailboxWatchers,
  ) {}

  async handle(tx: ServerTx): Promise<void> {
    const req = tx.request;
    const aor = await this.auth.authenticate(tx, this.config.auth);
    if (!aor) return;
    const to = req.to;
    if (!to || aorOf(to.uri) !== aor) return void tx.respond(403, 'Forbidden', { headers: [['Warning', `399 ${this.config.advertisedHost} "may only register your own address"`]] });
    const defaultExpires = Number(req.get('expires') ?? 3600);
    const contacts = req.getAll('contact');
    if (contacts.length === 1 && contacts[0].trim() === '*') {
      await this.users.unbind(aor);
    } else {
      for (const c of req.contacts) {
        const expires = Math.min(Number(c.params.expires ?? defaultExpires), 86400);
        if (!Number.isFinite(expires)) return void tx.respond(400, 'Invalid Expires');
        if (expires === 0) await this.users.unbind(aor, c.uriText);
        else
          await this.users.bind(aor, {
            contact: c.uriText,
            expiresAt: Date.now() + expires * 1000,
            flowId: tx.flow.id,
            transport: tx.flow.transport,
            address: tx.flow.remoteAddress,
            port: tx.flow.remotePort,
          });
      }
    }
    const live = await this.users.bindings(aor);
    tx.respond(200, 'OK', {
      headers: [...live.map((b) => ['Contact', `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - Date.now()) / 1000))}`] as [string, string]), ['Date', new Date().toUTCString()]],
    });
    if (live.length) void this.watchers.notifyWaiting(aor);
  }
}
