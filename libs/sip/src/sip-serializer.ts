/** Writes SIP messages (RFC 3261 §7): start line, headers in order, Content-Length computed, body bytes. */
import { SipMessage, SipRequest, SipResponse } from './sip-message';

const enc = new TextEncoder();

export function serializeSipMessage(msg: SipMessage): Uint8Array {
  let head = msg instanceof SipRequest ? `${msg.method} ${msg.uri} SIP/2.0\r\n` : `SIP/2.0 ${(msg as SipResponse).status} ${(msg as SipResponse).reason}\r\n`;
  for (const h of msg.headers) if (h.key !== 'content-length') head += `${h.name}: ${h.value}\r\n`;
  head += `Content-Length: ${msg.body.length}\r\n\r\n`;
  const h = enc.encode(head);
  if (msg.body.length === 0) return h;
  const out = new Uint8Array(h.length + msg.body.length);
  out.set(h, 0);
  out.set(msg.body, h.length);
  return out;
}

export function serializeToString(msg: SipMessage): string {
  return new TextDecoder().decode(serializeSipMessage(msg));
}
