/**
 * message/cpim (RFC 3862) wrapping for deferred delivery: the stored MIME part goes inside byte for byte, after
 * the CPIM message headers (From, To, DateTime, NS imdn, imdn.* of RFC 5438 §6) and a blank line.
 */
export interface CpimHeaders {
  from: string;
  to: string;
  dateTime: string;
  imdnMessageId?: string;
  dispositionNotification?: string;
  /** Extra `Name: value` CPIM headers. */
  extra?: [string, string][];
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function angle(uri: string): string {
  return uri.includes('<') ? uri : `<${uri}>`;
}

/** `innerMime` is the stored part: its own MIME headers (e.g. `Content-Type: text/plain`), a blank line, the body. */
export function wrapCpim(h: CpimHeaders, innerMime: Uint8Array): Uint8Array {
  let head = `From: ${angle(h.from)}\r\nTo: ${angle(h.to)}\r\nDateTime: ${h.dateTime}\r\n`;
  if (h.imdnMessageId || h.dispositionNotification) head += 'NS: imdn <urn:ietf:params:imdn>\r\n';
  if (h.imdnMessageId) head += `imdn.Message-ID: ${h.imdnMessageId}\r\n`;
  if (h.dispositionNotification) head += `imdn.Disposition-Notification: ${h.dispositionNotification}\r\n`;
  for (const [k, v] of h.extra ?? []) head += `${k}: ${v}\r\n`;
  const hb = enc.encode(head + '\r\n');
  const out = new Uint8Array(hb.length + innerMime.length);
  out.set(hb, 0);
  out.set(innerMime, hb.length);
  return out;
}

/** Builds the inner MIME part for a stored body of a given content type. */
export function mimePart(contentType: string, body: Uint8Array): Uint8Array {
  const h = enc.encode(`Content-Type: ${contentType}\r\n\r\n`);
  const out = new Uint8Array(h.length + body.length);
  out.set(h, 0);
  out.set(body, h.length);
  return out;
}

export interface CpimMessage {
  headers: [string, string][];
  from?: string;
  to?: string;
  dateTime?: string;
  imdnMessageId?: string;
  dispositionNotification?: string;
  contentType?: string;
  /** The inner MIME part, byte for byte. */
  inner: Uint8Array;
  /** The inner part's body (after its own headers). */
  body: Uint8Array;
}

function blankLine(b: Uint8Array, from = 0): number {
  for (let i = from; i + 3 < b.length; i++) if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  return -1;
}

export function unwrapCpim(bytes: Uint8Array): CpimMessage | undefined {
  const end = blankLine(bytes);
  if (end < 0) return undefined;
  const headers: [string, string][] = dec
    .decode(bytes.subarray(0, end))
    .split('\r\n')
    .map((l) => {
      const c = l.indexOf(':');
      return [l.slice(0, c).trim(), l.slice(c + 1).trim()] as [string, string];
    });
  const get = (n: string) => headers.find(([k]) => k.toLowerCase() === n.toLowerCase())?.[1];
  const inner = bytes.slice(end + 4);
  const innerEnd = blankLine(inner);
  const innerHead = innerEnd >= 0 ? dec.decode(inner.subarray(0, innerEnd)) : '';
  const ct = /^content-type:\s*(.+)$/im.exec(innerHead)?.[1]?.trim();
  return {
    headers,
    from: get('From')?.replace(/^.*<([^>]+)>.*$/, '$1'),
    to: get('To')?.replace(/^.*<([^>]+)>.*$/, '$1'),
    dateTime: get('DateTime'),
    imdnMessageId: get('imdn.Message-ID'),
    dispositionNotification: get('imdn.Disposition-Notification'),
    contentType: ct,
    inner,
    body: innerEnd >= 0 ? inner.slice(innerEnd + 4) : inner,
  };
}
