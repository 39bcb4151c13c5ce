import { createResponse, parseSipMessage, SipRequest } from './index';

const INVITE = [
  'INVITE sip:deferred@example.com SIP/2.0',
  'Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKedge1',
  'Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKua1',
  'Record-Route: <sip:10.0.0.9:5060;lr;ftag=a1>',
  'Record-Route: <sip:10.0.0.8;lr;transport=tcp>, <sip:10.0.0.7;lr>',
  'From: <sip:bob@example.com>;tag=a1',
  'To: <sip:deferred@example.com>',
  'Call-ID: rr1@example.com',
  'CSeq: 2 INVITE',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

function request(text: string): SipRequest {
  const r = parseSipMessage(new TextEncoder().encode(text));
  if (!r.ok || !(r.message instanceof SipRequest)) throw new Error('fixture does not parse');
  return r.message;
}

describe('createResponse', () => {
  it('copies every Record-Route value, in order, into a 2xx to INVITE (RFC 3261 §12.1.1)', () => {
    const res = createResponse(request(INVITE), 200, 'OK', { toTag: 'srv' });
    expect(res.getAll('record-route')).toEqual(request(INVITE).getAll('record-route'));
    expect(res.getAll('record-route').join(', ')).toBe('<sip:10.0.0.9:5060;lr;ftag=a1>, <sip:10.0.0.8;lr;transport=tcp>, <sip:10.0.0.7;lr>');
  });

  it('copies Record-Route into a 2xx to SUBSCRIBE, and not into final errors, 100 Trying or other methods', () => {
    expect(createResponse(request(INVITE.replace(/INVITE/g, 'SUBSCRIBE')), 200).getAll('record-route')).toHaveLength(3);
    expect(createResponse(request(INVITE), 486).getAll('record-route')).toEqual([]);
    expect(createResponse(request(INVITE), 100).getAll('record-route')).toEqual([]);
    expect(createResponse(request(INVITE.replace(/INVITE/g, 'MESSAGE')), 200).getAll('record-route')).toEqual([]);
  });
});
