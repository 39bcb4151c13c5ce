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
/** A request line whose elements are there but badly separated (RFC 4475 §3.1.2.8-10): refused, yet answerable. */
const LOOSE_REQUEST_LINE = /^([A-Za-z0-9.!%*_+`'~-]+)[ \t]+(\S.*?)[ \t]+SIP\/(\d+\.\d+)[ \t]*$/;
/** §7.2 / §25.1: Status-Code is 3DIGIT, §21: classes 1xx-6xx (RFC 4475 §3.1.2.19 "4294967301" is refused). */
const STATUS_LINE = /^SIP\/(\d+\.\d+) ([1-6]\d\d)(?: (.*))?$/;
/**
 * Headers whose grammar has quoted-string (§25.1: display-name, generic-param values, auth-params, warn-text); an
 * unterminated quote there is refused (RFC 4475 §3.1.2.6). Unknown headers are opaque text and are not checked.
 */
const QUOTING_HEADERS = new Set([
  'via', 'from', 'to', 'contact', 'route', 'record-route', 'reply-to', 'p-asserted-identity', 'p-preferred-identity',
  'authorization', 'proxy-authorization', 'www-authenticate', 'proxy-authenticate', 'authentication-info',
  'content-type', 'content-disposition', 'accept', 'event', 'subscription-state', 'refer-to', 'referred-by',
  'call-info', 'alert-info', 'error-info', 'warning', 'path', 'service-route', 'reason',
]);
/** §7.3.1: header fields that may appear once only (a message carrying two is unintelligible, RFC 4475 §3.3.8-9). */
const SINGLE_HEADERS = [
  ['call-id', 'Call-ID'],
  ['from', 'From'],
  ['to', 'To'],
  ['cseq', 'CSeq'],
  ['max-forwards', 'Max-Forwards'],
  ['content-length', 'Content-Length'],
  ['content-type', 'Content-Type'],
] as const;

/** True when every quoted-string in `v` is closed (a backslash escapes the next character, §25.1 quoted-pair). */
export function quotesBalanced(v: string): boolean {
  let quoted = false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (quoted && c === 92 /* \ */) i++;
    else if (c === 34 /* " */) quoted = !quoted;
  }
  return !quoted;
}

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
  let end = findHeaderEnd(bytes, start);
  // a datagram is whole: without its empty line it is refused, but still read far enough to address the 400
  let missingEmptyLine = false;
  if (end < 0) {
    if (bytes.length - start > maxHeader) return fail(513, 'Message Too Large');
    if (!opts.datagram) return fail(400, 'Missing Empty Line After Headers');
    missingEmptyLine = true;
    end = bytes.length;
    while (end - 2 >= start && bytes[end - 2] === 13 && bytes[end - 1] === 10) end -= 2;
  }
  if (end - start > maxHeader) return fail(513, 'Message Too Large');
  const head = dec.decode(bytes.subarray(start, end));
  const lines = head.split('\r\n');
  const first = lines[0];
  let msg: SipRequest | SipResponse;
  // problems found in the start line are reported once the headers are read, so that the answer can be addressed
  let startLineProblem: [number, string] | undefined;
  let m = REQUEST_LINE.exec(first);
  if (m) {
    // §8.2.6 / §21.5.6: a request of another SIP version gets 505
    if (m[3] !== '2.0') startLineProblem = [505, 'Version Not Supported'];
    msg = new SipRequest(m[1].toUpperCase(), m[2]);
  } else if ((m = STATUS_LINE.exec(first))) {
    if (m[1] !== '2.0') return fail(505, 'Version Not Supported');
    msg = new SipResponse(Number(m[2]), m[3] ?? '');
  } else if ((m = LOOSE_REQUEST_LINE.exec(first))) {
    // §7.1: "The elements are separated by single SP characters"; RFC 4475 §3.1.2.8-10 allow refusing extra LWS
    startLineProblem = [400, 'Malformed Start Line'];
    msg = new SipRequest(m[1].toUpperCase(), m[2].trim());
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
    const key = canonicalName(name);
    const value = line.slice(colon + 1).trim();
    // §25.1 quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE: a quote left open swallows the rest
    if (QUOTING_HEADERS.has(key) && !quotesBalanced(value)) {
      const label = SINGLE_HEADERS.find(([k]) => k === key)?.[1] ?? name;
      startLineProblem ??= [400, `Unterminated Quoted String In ${label} Header`];
    }
    msg.headers.push({ key, name, value });
  }
  if (startLineProblem) return fail(startLineProblem[0], startLineProblem[1], msg);
  if (missingEmptyLine) return fail(400, 'Missing Empty Line After Headers', msg);

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
  for (const [key, label] of SINGLE_HEADERS) {
    let n = 0;
    for (const h of msg.headers) if (h.key === key) n++;
    if (n > 1) return fail(400, `Multiple ${label} Headers`, msg);
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
    const ruri = parseUri(msg.uri);
    if (!ruri) return fail(400, 'Malformed Request-URI', msg);
    // §19.1.1 Table 1: URI headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11 may refuse them)
    if (ruri.headers !== undefined) return fail(400, 'Request-URI Must Not Carry Headers', msg);
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
