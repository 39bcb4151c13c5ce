/** IMDN delivery notifications (RFC 5438 §7.2): `message/imdn+xml` with a `<delivered/>` status. */
export interface Imdn {
  messageId: string;
  dateTime: string;
  status: 'delivered' | 'failed' | 'forbidden' | 'error' | 'displayed';
  recipient?: string;
}

function esc(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function buildImdn(n: Imdn): string {
  const kind = n.status === 'displayed' ? 'display-notification' : 'delivery-notification';
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\r\n' +
    '<imdn xmlns="urn:ietf:params:xml:ns:imdn">\r\n' +
    `<message-id>${esc(n.messageId)}</message-id>\r\n` +
    `<datetime>${esc(n.dateTime)}</datetime>\r\n` +
    (n.recipient ? `<recipient-uri>${esc(n.recipient)}</recipient-uri>\r\n` : '') +
    `<${kind}><status><${n.status}/></status></${kind}>\r\n` +
    '</imdn>\r\n'
  );
}

export function parseImdn(xml: string): Imdn | undefined {
  const get = (t: string) => new RegExp(`<${t}>([^<]*)</${t}>`).exec(xml)?.[1];
  const status = /<status>\s*<(delivered|failed|forbidden|error|displayed)\s*\/>/.exec(xml)?.[1] as Imdn['status'] | undefined;
  const messageId = get('message-id');
  const dateTime = get('datetime');
  if (!messageId || !dateTime || !status) return undefined;
  return { messageId, dateTime, status, recipient: get('recipient-uri') };
}
