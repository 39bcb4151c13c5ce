/**
 * `imc deposit --password …`: a pager-mode SIP MESSAGE (RFC 3428) sent by sip.js over SIP-over-WebSocket as the
 * sender, answering the server's digest challenge (RFC 3261 §22.2); the im-server stores it as a deferred message
 * when the recipient is not registered.
 */
import { WebSocket as WsWebSocket } from 'ws';
import { Messager, UserAgent } from 'sip.js';

export interface SipMessageOptions {
  sipWsUrl: string;
  from: string;
  password: string;
  to: string;
  text: string;
  contentType?: string;
}

/** Resolves to the final status of the MESSAGE (2xx = accepted). */
export async function sendSipMessage(o: SipMessageOptions): Promise<{ status: number; reason: string }> {
  const g = globalThis as { WebSocket?: unknown };
  if (!g.WebSocket) g.WebSocket = WsWebSocket; // sip.js runs in Node on the ws package's WebSocket
  const target = UserAgent.makeURI(o.to);
  if (!target) throw new Error(`not a SIP URI: ${o.to}`);
  const ua = new UserAgent({
    uri: UserAgent.makeURI(o.from),
    transportOptions: { server: o.sipWsUrl },
    authorizationUsername: o.from.replace(/^sips?:/, '').split('@')[0],
    authorizationPassword: o.password,
    logLevel: 'error',
    logBuiltinEnabled: false,
  });
  try {
    await ua.start();
    return await new Promise((resolve, reject) => {
      new Messager(ua, target, o.text, o.contentType ?? 'text/plain')
        .message({
          requestDelegate: {
            onAccept: (r) => resolve({ status: r.message.statusCode ?? 200, reason: r.message.reasonPhrase ?? '' }),
            onReject: (r) => resolve({ status: r.message.statusCode ?? 0, reason: r.message.reasonPhrase ?? '' }),
          },
        })
        .catch(reject);
    });
  } finally {
    await ua.stop().catch(() => undefined);
  }
}
