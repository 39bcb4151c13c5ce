/**
 * A user's sip.js phone over SIP-over-WebSocket for receipt tests: digest credentials, optionally REGISTERed (so
 * the im-server reaches it over its connection), keeping each MESSAGE it receives (answered 200) and sending
 * pager-mode MESSAGEs of any content type (RFC 3428), resolving with the final status.
 */
import type { Registerer as Reg, UserAgent as Ua } from 'sip.js';

export interface Received {
  contentType?: string;
  body: string;
}

export class SipJsPhone {
  readonly got: Received[] = [];
  private reg?: Reg;
  private constructor(private readonly ua: Ua) {}

  static async start(sipWsUrl: string, aor: string, password: string, register: boolean): Promise<SipJsPhone> {
    const { UserAgent, Registerer } = await import('sip.js');
    const g = globalThis as { WebSocket?: unknown };
    g.WebSocket ??= (await import('ws')).WebSocket;
    let phone: SipJsPhone | undefined;
    const ua = new UserAgent({
      uri: UserAgent.makeURI(aor),
      transportOptions: { server: sipWsUrl },
      authorizationUsername: aor.slice(4, aor.indexOf('@')),
      authorizationPassword: password,
      logBuiltinEnabled: false,
      delegate: {
        onMessage: (m) => {
          phone?.got.push({ contentType: m.request.getHeader('Content-Type'), body: m.request.body });
          void m.accept();
        },
      },
    });
    phone = new SipJsPhone(ua);
    await ua.start();
    if (register) {
      const reg = (phone.reg = new Registerer(ua));
      await new Promise<void>((resolve, reject) => {
        reg.stateChange.addListener((st) => st === 'Registered' && resolve());
        reg.register({ requestDelegate: { onReject: (r) => reject(new Error(`REGISTER refused: ${r.message.statusCode}`)) } }).catch(reject);
      });
    }
    return phone;
  }

  /** A MESSAGE to `to`; its final status. */
  async send(to: string, body: string, contentType: string): Promise<number> {
    const { UserAgent, Messager } = await import('sip.js');
    return new Promise<number>((resolve) => {
      void new Messager(this.ua, UserAgent.makeURI(to)!, body, contentType).message({
        requestDelegate: {
          onAccept: (r) => resolve(r.message.statusCode ?? 0),
          onReject: (r) => resolve(r.message.statusCode ?? 0),
        },
      });
    });
  }

  /**
   * Unregisters (waiting for the answer, so that no REGISTER transaction outlives the test), then stops the UA
   * (bounded: sip.js 0.21 in Node can wait on its WebSocket close handshake).
   */
  async stop(): Promise<void> {
    const reg = this.reg;
    if (reg && reg.state === 'Registered') {
      await new Promise<void>((resolve) => {
        reg.stateChange.addListener((st) => st === 'Unregistered' && resolve());
        reg.unregister({ requestDelegate: { onReject: () => resolve() } }).catch(() => resolve());
      });
    }
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.ua.stop(), new Promise((r) => (t = setTimeout(r, 500)))]);
    clearTimeout(t);
  }
}
