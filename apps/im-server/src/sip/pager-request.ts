/**
 * The pager-mode MESSAGE (RFC 3428) the im-server originates towards a registered contact, over the flow the contact
 * registered on: a relayed deposit (handlers/pager.handler.ts) and an IMDN receipt (receipts/receipt-sender.ts) are
 * both built here. A fresh Call-ID, From tag and branch each (a MESSAGE outside any dialog, §4).
 */
import { BRANCH_BITS, CALL_ID_BITS, MAGIC_COOKIE, randomToken, SipRequest } from '@imc/sip';
import type { SipFlow } from '@imc/sip-node';
import type { SipFrontPort } from './sip-port';

export interface PagerRequest {
  /** The binding's Contact URI: the Request-URI. */
  contact: string;
  /** The flow it goes out on (its Via names our address on that transport). */
  flow: SipFlow;
  /** The From URI (a tag is added). */
  from: string;
  /** The To header value as it goes out (`<sip:bob@example.com>`, or the deposit's own To). */
  toHeader: string;
  contentType: string;
  body: Uint8Array;
}

export function buildPagerMessage(sip: Pick<SipFrontPort, 'viaFor' | 'random'>, advertisedHost: string, p: PagerRequest): SipRequest {
  const r = sip.random;
  const via = sip.viaFor(p.flow);
  const m = new SipRequest('MESSAGE', p.contact);
  m.add('Via', `SIP/2.0/${via.transport} ${via.host}:${via.port};branch=${MAGIC_COOKIE}${randomToken(r, BRANCH_BITS)};rport`);
  m.add('Max-Forwards', '70');
  m.add('From', `<${p.from}>;tag=${randomToken(r)}`);
  m.add('To', p.toHeader);
  m.add('Call-ID', `${randomToken(r, CALL_ID_BITS)}@${advertisedHost}`);
  m.add('CSeq', '1 MESSAGE');
  m.add('Content-Type', p.contentType);
  m.body = p.body;
  return m;
}
