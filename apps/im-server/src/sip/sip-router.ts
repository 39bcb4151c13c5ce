/**
 * The im-server's SIP request route: the checks every new request passes, then one handler per method.
 *
 * The SIP front (`sip-front.ts`) hands each new server transaction here. In order (docs/protocol-notes.md §4):
 * a method nobody implements → 501 + Allow; a Require naming an extension we lack → 420 + Unsupported (RFC 3261
 * §8.2.2.3); a merged request (§8.2.2.2, `merged-requests.ts`) → 482; new work (INVITE, MESSAGE, SUBSCRIBE) while
 * draining → 503 + Retry-After; then the handler registered for the method (`handlers/`). A method that lives only
 * in dialogs this server never creates (NOTIFY, INFO, UPDATE, PRACK) → 481; a known method without a handler →
 * 405 + Allow (§8.2.1). ACKs for 2xx (passed up by the transaction layer) go to the handler registered for ACK.
 */
import type { Clock, SipRequest } from '@imc/sip';
import type { ServerTx } from './sip-context';
import { MergedRequests } from './merged-requests';

export const ALLOW = 'INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, MESSAGE, SUBSCRIBE, NOTIFY';
const KNOWN_METHODS = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'MESSAGE', 'SUBSCRIBE', 'NOTIFY', 'INFO', 'UPDATE', 'PRACK', 'REFER', 'PUBLISH']);
const SUPPORTED_EXTENSIONS = new Set<string>(['path', 'outbound']);
/** Requests that start new work: refused with 503 while the server drains. */
const NEW_WORK = new Set(['INVITE', 'MESSAGE', 'SUBSCRIBE']);
/** Methods that only exist inside a dialog this server never creates. */
const FOREIGN_DIALOG = new Set(['NOTIFY', 'INFO', 'UPDATE', 'PRACK']);

/** A metrics label for a method: the ones we know, else one shared label (a peer must not mint new time series). */
export function methodLabel(m: string): string {
  return KNOWN_METHODS.has(m) ? m : '(other)';
}

/** One concern's handler: the methods it answers, each answered by exactly one handler. */
export interface SipHandler {
  readonly methods: readonly string[];
  /** Answers a new server transaction (the common checks are passed). */
  handle(tx: ServerTx): Promise<void> | void;
  /** For the handler of ACK: an ACK for a 2xx; false when no dialog of its own matches. */
  onAck?(req: SipRequest): boolean;
  /** Sizes of the maps a peer can grow, by name (the memory test reads them). */
  sizes?(): Record<string, number>;
}

/** What the SIP front asks of its router. */
export interface SipRequestRouter {
  route(tx: ServerTx): Promise<void>;
  onAck(req: SipRequest): boolean;
  drain(): void;
  close(): void;
  sizes(): Record<string, number>;
}

export class SipRouter implements SipRequestRouter {
  private readonly table = new Map<string, SipHandler>();
  private readonly handlers: readonly SipHandler[];
  private readonly merged: MergedRequests;
  private draining = false;

  constructor(handlers: readonly SipHandler[], timing: { clock: Clock; t1: number }) {
    this.handlers = handlers;
    this.merged = new MergedRequests(timing.clock, timing.t1);
    for (const h of handlers)
      for (const m of h.methods) {
        if (!KNOWN_METHODS.has(m)) throw new Error(`SipRouter: ${m} is not a method the SIP front knows`);
        if (this.table.has(m)) throw new Error(`SipRouter: two handlers for ${m}`);
        this.table.set(m, h);
      }
  }

  /** Stops taking new work (INVITE, MESSAGE, SUBSCRIBE get 503); dialogs in progress go on. */
  drain(): void {
    this.draining = true;
  }

  close(): void {
    this.draining = true;
    this.merged.close();
  }

  sizes(): Record<string, number> {
    return Object.assign({ merged: this.merged.size }, ...this.handlers.map((h) => h.sizes?.() ?? {}));
  }

  onAck(req: SipRequest): boolean {
    return this.table.get('ACK')?.onAck?.(req) ?? false;
  }

  async route(tx: ServerTx): Promise<void> {
    const req = tx.request;
    const m = req.method;
    if (!KNOWN_METHODS.has(m)) return void tx.respond(501, 'Not Implemented', { headers: [['Allow', ALLOW]] });
    const unknown = req.getAll('require').filter((o) => !SUPPORTED_EXTENSIONS.has(o.toLowerCase()));
    if (unknown.length && m !== 'CANCEL') return void tx.respond(420, 'Bad Extension', { headers: [['Unsupported', unknown.join(', ')]] });
    if (!req.to?.params.tag && m !== 'CANCEL' && this.merged.isMerged(req)) return void tx.respond(482, 'Loop Detected');
    if (this.draining && NEW_WORK.has(m)) return void tx.respond(503, 'Shutting Down', { headers: [['Retry-After', '30']] });
    const handler = this.table.get(m);
    if (handler) return handler.handle(tx);
    if (FOREIGN_DIALOG.has(m)) return void tx.respond(481, 'Call/Transaction Does Not Exist');
    tx.respond(405, 'Method Not Allowed', { headers: [['Allow', ALLOW]] });
  }
}
