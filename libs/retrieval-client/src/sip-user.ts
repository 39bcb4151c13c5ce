/**
 * One SIP user as sip.js sees it: a user agent over SIP-over-WebSocket (RFC 7118) whose media layer is the MSRP
 * offer handler, able to REGISTER with digest (RFC 3261 §10, §22), subscribe to its message-summary (RFC 3842) and
 * place the INVITE of a retrieval. The platform's `WebSocket` carries SIP (in Node, `ws` installed as the global).
 */
import { Inviter, Registerer, Subscriber, UserAgent } from 'sip.js';
import type { SessionDescriptionHandlerFactory } from 'sip.js';
import type { MsrpClock } from '@imc/msrp';
import { MsrpOfferHandler } from './msrp-offer-handler';
import { parseSummary, Summary } from './message-summary';
import { RegisterRefusedError } from './register-refused-error';

export interface SipUserOptions {
  /** ws(s)://host:port of the server's SIP-over-WebSocket listener. */
  sipWsUrl: string;
  aor: string;
  password: string;
  /** Digest username (default: the AOR's user part). */
  username?: string;
  clock: MsrpClock;
  /** sip.js's own console log (default on, at `logLevel`). */
  logBuiltin?: boolean;
  logLevel?: 'error' | 'warn' | 'log' | 'debug';
}

/** An INVITE being placed, and the SDP answer once its 200 OK arrived. */
export interface MsrpCall {
  inviter: Inviter;
  answerSdp(): string | undefined;
}

export class SipUser {
  readonly ua: UserAgent;
  private offer = '';
  private handler?: MsrpOfferHandler;
  private subscriber?: Subscriber;

  constructor(private readonly o: SipUserOptions) {
    const factory: SessionDescriptionHandlerFactory = () => (this.handler = new MsrpOfferHandler(this.offer));
    this.ua = new UserAgent({
      uri: UserAgent.makeURI(o.aor),
      transportOptions: { server: o.sipWsUrl },
      authorizationUsername: o.username ?? o.aor.replace(/^sips?:/, '').split('@')[0],
      authorizationPassword: o.password,
      sessionDescriptionHandlerFactory: factory,
      logBuiltinEnabled: o.logBuiltin ?? true,
      logLevel: o.logLevel ?? 'error',
    });
  }

  get domain(): string {
    return this.o.aor.split('@')[1];
  }

  start(): Promise<void> {
    return this.ua.start();
  }

  /** REGISTERs (answering the digest challenge); rejects with `RegisterRefusedError` on a final refusal. */
  register(): Promise<void> {
    const registerer = new Registerer(this.ua);
    return new Promise<void>((resolve, reject) => {
      registerer.stateChange.addListener((s) => (s === 'Registered' ? resolve() : undefined));
      registerer
        .register({ requestDelegate: { onReject: (r) => reject(new RegisterRefusedError(r.message.statusCode ?? 0, r.message.reasonPhrase ?? '')) } })
        .catch(reject);
    });
  }

  /** SUBSCRIBEs to the user's own message-summary (RFC 3842); each NOTIFY is accepted and handed over parsed. */
  async subscribeSummary(onSummary: (s: Summary) => void): Promise<void> {
    this.subscriber = new Subscriber(this.ua, UserAgent.makeURI(this.o.aor)!, 'message-summary', { expires: 600 });
    this.subscriber.delegate = {
      onNotify: (n) => {
        n.accept();
        onSummary(parseSummary(n.request.body ?? ''));
      },
    };
    await this.subscriber.subscribe();
  }

  /** Refreshes the subscription: a NOTIFY with the count now left follows (RFC 6665 §4.2.1.2). */
  async refreshSummary(): Promise<void> {
    await this.subscriber?.subscribe();
  }

  /** An Inviter to `target` whose INVITE will carry `offer` (and `extraHeaders`, e.g. an Accept asking for AoC). */
  call(target: string, offer: string, extraHeaders: string[] = []): MsrpCall {
    const uri = UserAgent.makeURI(target);
    if (!uri) throw new Error(`not a SIP URI: ${target}`);
    this.offer = offer;
    this.handler = undefined;
    return { inviter: new Inviter(this.ua, uri, { extraHeaders }), answerSdp: () => this.handler?.answerSdp };
  }

  /**
   * Unsubscribes and stops the user agent. sip.js 0.21 in Node may wait forever on a WebSocket close handshake the
   * server no longer answers, so `boundMs` (when given) bounds the wait.
   */
  async stop(boundMs?: number): Promise<void> {
    const stopping = (async () => {
      await this.subscriber?.unsubscribe().catch(() => undefined);
      await this.ua.stop().catch(() => undefined);
    })();
    if (boundMs === undefined) return stopping;
    let timer: { cancel(): void } | undefined;
    await Promise.race([stopping, new Promise<void>((r) => (timer = this.o.clock.setTimer(boundMs, r)))]);
    timer?.cancel();
  }
}
