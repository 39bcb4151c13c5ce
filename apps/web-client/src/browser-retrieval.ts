/**
 * The browser side of a retrieval, with nothing but browser APIs: `@imc/retrieval-client` over the page's
 * WebSocket — sip.js over SIP-over-WebSocket (RFC 7118) for REGISTER, the message-summary subscription (RFC 3842)
 * and the INVITE to the deferred URI, MSRP-over-WebSocket (RFC 7977) for the messages — with the page's clock and
 * Web Crypto as the random source.
 */
import type { MsrpClock, MsrpRandom } from '@imc/msrp';
import { AocInfo, ReceivedMessage, RegisterRefusedError, retrieveDeferred, RetrievalResult, SipUser, Summary, WebSocketMsrpTransport } from '@imc/retrieval-client';

export { formatAocMoney, parseSummary } from '@imc/retrieval-client';
export type { AocInfo, Summary };
export type BrowserMessage = ReceivedMessage;

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
  /** Advice of charge the server sent (TS 24.647): the price granted (AoC-S) and the cost after (AoC-E). */
  aocS?: AocInfo;
  aocE?: AocInfo;
}

/** One logged-in SIP user: registered, subscribed to message-summary, able to retrieve. */
export class WebImClient {
  private user?: SipUser;
  /** Set during a retrieval: called with each summary the server sends. */
  private summaryWatch?: (s: Summary) => void;
  constructor(private readonly o: ClientOptions) {}

  /** Connects, REGISTERs with digest and subscribes to message-summary. Rejects when the credentials are refused. */
  async login(): Promise<void> {
    this.user = new SipUser({ sipWsUrl: this.o.sipWsUrl, aor: this.o.aor, password: this.o.password, username: this.o.username, clock: browserClock });
    await this.user.start();
    await this.user.register().catch((e: unknown) => {
      throw e instanceof RegisterRefusedError ? new Error(`login refused: ${e.status} ${e.reason}`) : e;
    });
    await this.user.subscribeSummary((summary) => {
      this.summaryWatch?.(summary);
      this.o.onSummary?.(summary);
    });
  }

  /**
   * INVITE sip:deferred@domain, receive the messages over MSRP-over-WebSocket until the server says nothing is
   * left (a message-summary NOTIFY with 0 waiting after messages arrived: every one was answered and deleted; then
   * the client sends BYE) or the server hangs up (it sends BYE once idle).
   */
  async retrieve(timeoutMs = 30000): Promise<RetrievalOutcome> {
    const user = this.user;
    if (!user) throw new Error('not logged in');
    let r: RetrievalResult;
    try {
      r = await retrieveDeferred(user, {
        transport: new WebSocketMsrpTransport(),
        clock: browserClock,
        random: browserRandom,
        timeoutMs,
        onMessage: this.o.onMessage,
        onStarted: (end, received) => {
          this.summaryWatch = (sm) => {
            if (sm.newMessages === 0 && received.length > 0) end();
          };
        },
      });
    } finally {
      this.summaryWatch = undefined;
    }
    // a subscription refresh brings a NOTIFY with the count now left (RFC 6665 §4.2.1.2)
    if (r.status === 200) await user.refreshSummary();
    return { status: r.status, reason: r.reason, warning: r.warning, messages: r.messages, aocS: r.aocS, aocE: r.aocE };
  }

  async logout(): Promise<void> {
    await this.user?.stop();
  }
}
