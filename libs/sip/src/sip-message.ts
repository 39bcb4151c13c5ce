/**
 * SIP messages (RFC 3261 §7): a start line, headers in order (names case-insensitive, compact forms expanded,
 * §7.3.3), and the body as bytes. Typed accessors parse the headers the server needs on demand.
 */
import { NameAddr, parseNameAddr, parseParams, splitHeaderValues } from './uri';

/** RFC 3261 §7.3.3 and later RFCs' compact forms. */
export const COMPACT_FORMS: Record<string, string> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event',
  u: 'allow-events',
  r: 'refer-to',
  b: 'referred-by',
  x: 'session-expires',
  y: 'identity',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
};

/** Headers whose comma-separated values are separate header fields (RFC 3261 §7.3.1). */
const MULTI = new Set(['via', 'contact', 'route', 'record-route', 'allow', 'supported', 'require', 'proxy-require', 'unsupported', 'accept', 'allow-events', 'path']);

export function canonicalName(name: string): string {
  const l = name.toLowerCase();
  return COMPACT_FORMS[l] ?? l;
}

export interface Header {
  /** Lower-case long form. */
  key: string;
  /** As it should be written. */
  name: string;
  value: string;
}

export interface Via {
  protocol: string;
  transport: string;
  host: string;
  port?: number;
  params: Record<string, string | null>;
  branch?: string;
  raw: string;
}

export interface CSeq {
  seq: number;
  method: string;
}

const VIA_RE = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9-]+)\s+(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?:\s*:\s*(\d{1,5}))?\s*((?:;.*)?)$/i;

export function parseVia(value: string): Via | undefined {
  const m = VIA_RE.exec(value.trim());
  if (!m) return undefined;
  const params = parseParams(m[4].replace(/^;/, ''));
  return {
    protocol: 'SIP/2.0',
    transport: m[1].toUpperCase(),
    host: m[2],
    port: m[3] ? Number(m[3]) : undefined,
    params,
    branch: params.branch ?? undefined,
    raw: value.trim(),
  };
}

export abstract class SipMessage {
  headers: Header[] = [];
  body: Uint8Array = new Uint8Array(0);

  get(key: string): string | undefined {
    const k = canonicalName(key);
    for (const h of this.headers) if (h.key === k) return h.value;
    return undefined;
  }

  /** Every value of a header, multi-value headers split into their fields. */
  getAll(key: string): string[] {
    const k = canonicalName(key);
    const out: string[] = [];
    for (const h of this.headers) {
      if (h.key !== k) continue;
      if (MULTI.has(k)) out.push(...splitHeaderValues(h.value));
      else out.push(h.value);
    }
    return out;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(name: string, value: string): this {
    this.remove(name);
    return this.add(name, value);
  }

  add(name: string, value: string): this {
    this.headers.push({ key: canonicalName(name), name, value });
    return this;
  }

  remove(name: string): this {
    const k = canonicalName(name);
    this.headers = this.headers.filter((h) => h.key !== k);
    return this;
  }

  get callId(): string {
    return this.get('call-id') ?? '';
  }

  get cseq(): CSeq {
    const m = /^(\d+)\s+([A-Za-z!%*_+`'~.-]+)$/.exec((this.get('cseq') ?? '').trim());
    return m ? { seq: Number(m[1]), method: m[2].toUpperCase() } : { seq: 0, method: '' };
  }

  get vias(): Via[] {
    return this.getAll('via').map((v) => parseVia(v)!).filter(Boolean);
  }

  get topVia(): Via | undefined {
    const first = this.getAll('via')[0];
    return first ? parseVia(first) : undefined;
  }

  get from(): NameAddr | undefined {
    const v = this.get('from');
    return v ? parseNameAddr(v) : undefined;
  }

  get to(): NameAddr | undefined {
    const v = this.get('to');
    return v ? parseNameAddr(v) : undefined;
  }

  get contacts(): NameAddr[] {
    return this.getAll('contact')
      .map((c) => parseNameAddr(c))
      .filter((c): c is NameAddr => !!c);
  }

  get contentType(): string | undefined {
    return this.get('content-type')?.split(';')[0].trim().toLowerCase();
  }

  bodyText(): string {
    return new TextDecoder().decode(this.body);
  }
}

export class SipRequest extends SipMessage {
  constructor(public method: string, public uri: string) {
    super();
  }

  get isRequest(): true {
    return true;
  }
}

export class SipResponse extends SipMessage {
  constructor(public status: number, public reason: string) {
    super();
  }

  get isRequest(): false {
    return false;
  }
}

export type AnySipMessage = SipRequest | SipResponse;

/** Reason phrases of RFC 3261 §21 and the extensions this server answers with. */
export const REASONS: Record<number, string> = {
  100: 'Trying',
  180: 'Ringing',
  200: 'OK',
  202: 'Accepted',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  423: 'Interval Too Brief',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  489: 'Bad Event',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
};
