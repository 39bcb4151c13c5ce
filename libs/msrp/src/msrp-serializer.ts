/** Writes MSRP frames (RFC 4975 §7.1): To-Path, From-Path, other headers, blank line + body when present, end-line. */
import { EndFlag, MSRP_STATUS, MsrpFrame } from './msrp-frame';

const enc = new TextEncoder();

export function serializeFrame(f: MsrpFrame): Uint8Array {
  let head = f.method ? `MSRP ${f.tid} ${f.method}\r\n` : `MSRP ${f.tid} ${f.status} ${f.comment ?? MSRP_STATUS[f.status!] ?? ''}`.trimEnd() + '\r\n';
  head += `To-Path: ${f.toPath.join(' ')}\r\nFrom-Path: ${f.fromPath.join(' ')}\r\n`;
  for (const [k, v] of f.headers) head += `${k}: ${v}\r\n`;
  const end = `-------${f.tid}${f.flag}\r\n`;
  if (f.body.length === 0 && !f.headers.some(([k]) => k.toLowerCase() === 'content-type')) return enc.encode(head + end);
  const h = enc.encode(head + '\r\n');
  const e = enc.encode('\r\n' + end);
  const out = new Uint8Array(h.length + f.body.length + e.length);
  out.set(h, 0);
  out.set(f.body, h.length);
  out.set(e, h.length + f.body.length);
  return out;
}

/** A transaction response (§7.2): To-Path is the request's From-Path (the previous hop), From-Path is ours. */
export function responseTo(req: MsrpFrame, status: number, ownPath: string[], comment?: string): MsrpFrame {
  return { tid: req.tid, status, comment: comment ?? MSRP_STATUS[status], toPath: [req.fromPath[0]], fromPath: ownPath, headers: [], body: new Uint8Array(0), flag: '$' };
}

export type { EndFlag };
