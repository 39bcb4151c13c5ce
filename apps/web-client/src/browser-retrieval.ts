/**
 * The browser side of a retrieval, with nothing but browser APIs: sip.js over SIP-over-WebSocket (RFC 7118) for
 * REGISTER, the message-summary subscription (RFC 3842) and the INVITE to the deferred URI, and the project's
 * browser-safe MSRP core over MSRP-over-WebSocket (RFC 7977) for the messages.
 *
 * sip.js's media layer is replaced by a session-description handler that offers `m=message 9 TCP/WS/MSRP *`
 * (RFC 7977 §5: the WebSocket client is always active and its path host is an .invalid name).
 */
import { Inviter, Registerer, SessionState, Subscriber, UserAgent } from 'sip.js';
import type { SessionDescriptionHandlerFactory } from 'sip.js';
import { MsrpClock, MsrpConnection, MsrpRandom, MsrpSession, newSessionId, unwrapCpim } from '@imc/msrp';
import { MsrpOfferHandler } from './msrp-offer';

export interface BrowserMessage {
  from?: string;
  dateTime?: string;
  contentType: string;
  text: string;
}

export interface Summary {
  waiting: boolean;
  /** New text messages (RFC 3842 §5.2, message-context-class text-message of RFC 3458). */
  newMessages: number;
}

/** RFC 3842 §5.2 application/simple-message-summary: Messages-Waiting, then `<class>: new/old[ (urgent)]` lines. */
export function parseSummary(body: string): Summary {
  const waiting = /^Messages-Waiting:\s*yes\s*$/im.test(body);
  const m = /^Text-Message:\s*(\d+)\s*\/\s*(\d+)/im.exec(body);
  return { waiting, newMessages: m ? Number(m[1]) : waiting ? 1 : 0 };
}

const browserClock: MsrpClock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

/** The page's CSPRNG (Web Crypto) as the MSRP core's random source: session-ids, transaction ids, Message-IDs. */
const browserRandom: MsrpRandom = {
  bytes(n) {
    const b = new Uint8Array(n);
    crypto.getRandomValues(b);
    return b;
  },
};

function connectMsrp(url: string, session: MsrpSession, cid: string): Promise<MsrpConnection> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'msrp'); // RFC 7977 §4.1: subprotocol "msrp"
    ws.binaryType = 'arraybuffer';
    const conn = new MsrpConnection(
      (b) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(b);
      },
      () => ws.close(),
      { find: (id: string) => (id === cid ? session : undefined) },
    );
    ws.onmessage = (e) => conn.push(typeof e.data === 'string' ? new TextEncoder().encode(e.data) : new Uint8Array(e.data as ArrayBuffer));
    ws.onclose = () => conn.end();
    ws.onerror = () => reject(new Error(`MSRP WebSocket ${url} failed`));
    ws.onopen = () => resolve(conn);
  });
}

export interface ClientOptions {
  sipWsUrl: string;
  aor: string;
  password: string;
  username?: string;
  onSummary?: (s: Summary) => void;
  onMessage?: (m: BrowserMessage) => void;
}

export interface RetrievalOutcome {
  status: number;
  reason?: string;
  warning?: string;
  messages: BrowserMessage[];
}

/** One logged-in SIP user: registered, subscribed to message-summary, able to retrieve. */
export class WebImClient {
  private ua?: UserAgent;
  private subscriber?: Subscriber;
  private offer = '';
  private handler?: MsrpOfferHandler;
  /** Set during a retrieval: called with each summary the server sends. */
  private summaryWatch?: (s: Summary) => void;
  constructor(private readonly o: ClientOptions) {}

  get domain(): string {
    return this.o.aor.split('@')[1];
  }

  /** Connects, REGISTERs with digest and subscribes to message-summary. Rejects when the credentials are refused. */
  async login(): Promise<void> {
    this.ua = new UserAgent({
      uri: UserAgent.makeURI(this.o.aor),
      transportOptions: { server: this.o.sipWsUrl },
      authorizationUsername: this.o.username ?? this.o.aor.replace(/^sips?:/, '').split('@')[0],
      authorizationPassword: this.o.password,
      sessionDescriptionHandlerFactory: (() => (this.handler = new MsrpOfferHandler(this.offer))) as SessionDescriptionHandlerFactory,
      logLevel: 'error',
    });
    await this.ua.start();
    const registerer = new Registerer(this.ua);
    await new Promise<void>((resolve, reject) => {
      registerer.stateChange.addListener((s) => (s === 'Registered' ? resolve() : undefined));
      registerer
        .register({ requestDelegate: { onReject: (r) => reject(new Error(`login refused: ${r.message.statusCode} ${r.message.reasonPhrase}`)) } })
        .catch(reject);
    });
    this.subscriber = new Subscriber(this.ua, UserAgent.makeURI(this.o.aor)!, 'message-summary', { expires: 600 });
    this.subscriber.delegate = {
      onNotify: (n) => {
        n.accept();
        const summary = parseSummary(n.request.body ?? '');
        this.summaryWatch?.(summary);
        this.o.onSummary?.(summary);
      },
    };
    await this.subscriber.subscribe();
  }

  /**
   * INVITE sip:deferred@domain, receive the messages over MSRP-over-WebSocket until the server says nothing is
   * left (a message-summary NOTIFY with 0 waiting after messages arrived: every one was answered and deleted; then
   * the client sends BYE) or the server hangs up (it sends BYE once idle).
   */
  async retrieve(timeoutMs = 30000): Promise<RetrievalOutcome> {
    if (!this.ua) throw new Error('not logged in');
    const cid = newSessionId(browserRandom); // RFC 4975 §14.1: ≥ 80 random bits
    const localPath = `msrp://${cid}.invalid:9/${cid};ws`;
    const offer = [
      'v=0',
      `o=- ${Date.now()} 1 IN IP4 ${cid}.invalid`,
      's=-',
      `c=IN IP4 ${cid}.invalid`,
      't=0 0',
      'm=message 9 TCP/WS/MSRP *',
      `a=path:${localPath}`,
      'a=accept-types:message/cpim text/plain',
      'a=accept-wrapped-types:*',
      'a=setup:active',
      'a=recvonly',
      '',
    ].join('\r\n');
    this.offer = offer;
    this.handler = undefined;
    const inviter = new Inviter(this.ua, UserAgent.makeURI(`sip:deferred@${this.domain}`)!);
    const out: RetrievalOutcome = { status: 0, messages: [] };
    let ended!: () => void;
    const finished = new Promise<void>((r) => (ended = r));
    const established = new Promise<boolean>((resolve) => {
      inviter.stateChange.addListener((s) => {
        if (s === SessionState.Established) resolve(true);
        if (s === SessionState.Terminated) {
          resolve(false);
          ended();
        }
      });
    });
    await inviter.invite({
      requestDelegate: {
        onReject: (r) => {
          out.status = r.message.statusCode ?? 0;
          out.reason = r.message.reasonPhrase;
          out.warning = r.message.getHeader('Warning');
        },
        onAccept: (r) => {
          out.status = r.message.statusCode ?? 200;
        },
      },
    });
    if (!(await established)) return out;
    const answerPath = /a=path:(\S+)/.exec((this.handler as MsrpOfferHandler | undefined)?.answerSdp ?? '')?.[1];
    if (!answerPath) throw new Error('the 200 OK carried no a=path');
    const session = new MsrpSession({ localPath, remotePath: answerPath, clock: browserClock, random: browserRandom });
    session.onMessage((m) => {
      const c = m.contentType.toLowerCase().startsWith('message/cpim') ? unwrapCpim(m.body) : undefined;
      const msg: BrowserMessage = { from: c?.from, dateTime: c?.dateTime, contentType: c?.contentType ?? m.contentType, text: new TextDecoder().decode(c ? c.body : m.body) };
      out.messages.push(msg);
      this.o.onMessage?.(msg);
    });
    const host = /^msrps?:\/\/([^/]+)\//.exec(answerPath)![1];
    const scheme = answerPath.startsWith('msrps:') ? 'wss' : 'ws';
    const conn = await connectMsrp(`${scheme}://${host}`, session, cid);
    conn.adopt(session);
    await session.sendBind(); // RFC 7977 §5.4: the active WebSocket endpoint binds with an empty SEND
    this.summaryWatch = (sm) => {
      if (sm.newMessages === 0 && out.messages.length > 0) ended();
    };
    const timer = setTimeout(() => ended(), timeoutMs);
    await finished;
    clearTimeout(timer);
    this.summaryWatch = undefined;
    if (inviter.state === SessionState.Established) await inviter.bye().catch(() => undefined);
    session.close();
    conn.end();
    // a subscription refresh brings a NOTIFY with the count now left (RFC 6665 §4.2.1.2)
    await this.subscriber?.subscribe();
    return out;
  }

  async logout(): Promise<void> {
    await this.subscriber?.unsubscribe().catch(() => undefined);
    await this.ua?.stop().catch(() => undefined);
  }
}
