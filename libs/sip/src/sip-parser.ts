/**
 * Parses one whole SIP message (a UDP datagram, a WebSocket message, or a message cut out of a TCP stream by
 * `SipStreamFramer`). Never throws: a bad message yields an error whose `status`/`reason` is the response to
 * send (RFC 3261 §8.2, §21.4.1 "the Reason-Phrase … SHOULD … indicate the problem", e.g. "Missing Call-ID
 * Header"), with whatever could be parsed so the response can still be addressed.
 */
import { REASONS, SipMessage, SipRequest, SipResponse, canonicalName, parseVia } from './sip-message';
import { parseNameAddr, parseUri } from './uri';

export interface ParseOptions {
  /** UDP (RFC 3261 §18.3): Content-Length may be absent (body = rest of the datagram); extra bytes are discarded. */
  datagram?: boolean;
  maxHeaderBytes?: number;
  maxBodyBytes?: number;
}

export interface SipParseError {
  status: number;
  reason: string;
  /** What was parsed before the problem, when it is a request (to address the error response). */
  partial?: SipRequest;
}

export type ParseResult = { ok: true; message: SipRequest | SipResponse } | ({ ok: false } & SipParseError);

const dec = new TextDecoder('utf-8');
const TOKEN_RE = /^[A-Za-z0-9.!%*_+`'~-]+$/;
const REQUEST_LINE = /^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP\/(\d+\.\d+)$/;
const STATUS_LINE = /^SIP\/(\d+\.\d+) (\d{3}) ?(.*)$/;

/** Index of the first CRLFCRLF in `b` at or after `from`, or -1. */
export function findHeaderEnd(b: Uint8Array, from = 0): number {
  for (let i = Math.max(from, 0); i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

function fail(status: number, reason: string, partial?: SipMessage): ParseResult {
  return { ok: false, status, reason, partial: partial instanceof SipRequest ? partial : undefined };
}

export function parseSipMessage(bytes: Uint8Array, opts: ParseOptions = {}): ParseResult {
  const maxHeader = opts.maxHeaderBytes ?? 65536;
  let start = 0;
  while (start + 1 < bytes.length && bytes[start] === 13 && bytes[start + 1] === 10) start += 2; // §7.5 leading CRLFs
  const end = findHeaderEnd(bytes, start);
  if (end < 0) {
    if (bytes.length - start > maxHeader) return fail(513, 'Message Too Large');
    return fail(400, 'Missing Empty Line After Headers');
  }
  if (end - start > maxHeader) return fail(513, 'Message Too Large');
  const head = dec.decode(bytes.subarray(start, end));
  const lines = head.split('\r\n');
  const first = lines[0];
  let msg: SipRequest | SipResponse;
  let m = REQUEST_LINE.exec(first);
  if (m) {
    if (m[3] !== '2.0') return fail(505, 'Version Not Supported');
    msg = new SipRequest(m[1].toUpperCase(), m[2]);
  } else if ((m = STATUS_LINE.exec(first))) {
    if (m[1] !== '2.0') return fail(505, 'Version Not Supported');
    msg = new SipResponse(Number(m[2]), m[3]);
  } else {
    return fail(400, 'Malformed Start Line');
  }

  // headers, with line folding (§7.3.1: a line starting with SP/HT continues the previous one)
  for (let i = 1; i < lines.length; i++) {
    let line = lines[i];
    while (i + 1 < lines.length && (lines[i + 1].startsWith(' ') || lines[i + 1].startsWith('\t'))) line += ' ' + lines[++i].trim();
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!name || !TOKEN_RE.test(name)) return fail(400, `Malformed Header Line ${i + 1}`, msg);
    msg.headers.push({ key: canonicalName(name), name, value: line.slice(colon + 1).trim() });
  }

  // mandatory headers (§8.1.1); Max-Forwards is tolerated when absent
  for (const [key, label] of [
    ['via', 'Via'],
    ['from', 'From'],
    ['to', 'To'],
    ['call-id', 'Call-ID'],
    ['cseq', 'CSeq'],
  ] as const) {
    if (!msg.get(key)) return fail(400, `Missing ${label} Header`, msg);
  }
  const cseqRaw = (msg.get('cseq') ?? '').trim();
  const cm = /^(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)$/.exec(cseqRaw);
  if (!cm || Number(cm[1]) > 2 ** 31 - 1) return fail(400, 'Malformed CSeq Header', msg);
  if (msg instanceof SipRequest && cm[2].toUpperCase() !== msg.method) return fail(400, 'CSeq Method Does Not Match Request Method', msg);
  for (const v of msg.getAll('via')) if (!parseVia(v)) return fail(400, 'Malformed Via Header', msg);
  if (!parseNameAddr(msg.get('from')!)) return fail(400, 'Malformed From Header', msg);
  if (!parseNameAddr(msg.get('to')!)) return fail(400, 'Malformed To Header', msg);
  const mf = msg.get('max-forwards');
  if (mf !== undefined && !/^\d{1,10}$/.test(mf.trim())) return fail(400, 'Malformed Max-Forwards Header', msg);
  if (msg instanceof SipRequest) {
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(msg.uri)) return fail(400, 'Malformed Request-URI', msg);
    if (!/^(sips?|tel):/i.test(msg.uri)) return fail(416, REASONS[416], msg);
    if (!parseUri(msg.uri)) return fail(400, 'Malformed Request-URI', msg);
  }

  // body (§18.3, §20.14)
  const bodyStart = end + 4;
  const available = bytes.length - bodyStart;
  const cl = msg.get('content-length');
  let length: number;
  if (cl === undefined) {
    if (!opts.datagram && available > 0) return fail(400, 'Missing Content-Length Header', msg);
    length = available;
  } else {
    if (!/^\d{1,10}$/.test(cl.trim())) return fail(400, 'Invalid Content-Length', msg);
    length = Number(cl.trim());
    if (length > available) return fail(400, 'Body Shorter Than Content-Length', msg);
  }
  if (opts.maxBodyBytes !== undefined && length > opts.maxBodyBytes) return fail(513, 'Message Too Large', msg);
  msg.body = bytes.slice(bodyStart, bodyStart + length);
  return { ok: true, message: msg };
}
