/**
 * MSRP frames (RFC 4975 §7): a request (`MSRP <tid> <METHOD>`) or a response (`MSRP <tid> <code> [comment]`),
 * To-Path then From-Path (they MUST be the first two headers, §7.1), other headers, an optional body, and the
 * end-line `-------<tid>` + flag: `$` end of message, `+` more chunks follow, `#` aborted (§7.1).
 */
export type EndFlag = '$' | '+' | '#';

export interface MsrpFrame {
  tid: string;
  /** Request method (SEND, REPORT, …) or undefined for a response. */
  method?: string;
  status?: number;
  comment?: string;
  toPath: string[];
  fromPath: string[];
  /** Other headers in order, names as written. */
  headers: [string, string][];
  body: Uint8Array;
  flag: EndFlag;
}

export function header(f: MsrpFrame, name: string): string | undefined {
  const n = name.toLowerCase();
  for (const [k, v] of f.headers) if (k.toLowerCase() === n) return v;
  return undefined;
}

export interface ByteRange {
  start: number;
  end: number | '*';
  total: number | '*';
}

/** `Byte-Range: start-end/total`, 1-based, `*` allowed (§7.1.1); absent means 1-* of *. */
export function parseByteRange(v: string | undefined): ByteRange | undefined {
  if (v === undefined) return { start: 1, end: '*', total: '*' };
  const m = /^\s*(\d+)-(\d+|\*)\/(\d+|\*)\s*$/.exec(v);
  if (!m) return undefined;
  return { start: Number(m[1]), end: m[2] === '*' ? '*' : Number(m[2]), total: m[3] === '*' ? '*' : Number(m[3]) };
}

/** RFC 4975 §10 status codes (IANA MSRP registry). */
export const MSRP_STATUS: Record<number, string> = {
  200: 'OK',
  400: 'Unintelligible',
  403: 'Action not allowed',
  408: 'Timeout',
  413: 'Message too large',
  415: 'Unsupported media type',
  423: 'Parameter out of bounds',
  481: 'Session does not exist',
  501: 'Method not understood',
  506: 'Session already bound',
};

export function sessionIdOf(uri: string): string | undefined {
  // msrp://host:port/session-id;transport  (§9)
  const m = /^msrps?:\/\/[^/]+\/([^;/?\s]+)(?:;[^\s]*)?$/i.exec(uri.trim());
  return m ? m[1] : undefined;
}
