/**
 * `multipart/mixed` SIP bodies (RFC 5621, with RFC 2046 §5.1 framing): the 200 OK of a retrieval INVITE carries the
 * SDP answer and the AoC-S side by side when the INVITE's Accept lists `application/vnd.etsi.aoc+xml`. The SDP part
 * keeps its default disposition (session); the AoC part is `signal;handling=optional` (RFC 5621 §9: a UA that does
 * not understand it may ignore it, and the session still stands).
 */
import { randomBytes } from 'node:crypto';
import { AOC_CONTENT_TYPE } from './aoc-xml';

export interface BodyPart {
  contentType: string;
  contentDisposition?: string;
  body: string;
}

/** Whether a request's Accept header values (one per header line, or comma-joined) list the AoC body type. */
export function acceptsAoc(accept: readonly string[]): boolean {
  return accept
    .flatMap((h) => h.split(','))
    .some((t) => t.split(';')[0].trim().toLowerCase() === AOC_CONTENT_TYPE);
}

/** Builds a multipart/mixed body; the boundary is random and checked not to occur in any part. */
export function buildMultipartMixed(parts: readonly BodyPart[], boundary = `imc-${randomBytes(12).toString('hex')}`): { contentType: string; body: Uint8Array } {
  if (!parts.length) throw new RangeError('parts: a multipart body needs at least one part');
  if (!/^[0-9A-Za-z'()+_,\-./:=?]{1,70}$/.test(boundary)) throw new RangeError(`boundary: not an RFC 2046 boundary: ${JSON.stringify(boundary)}`);
  if (parts.some((p) => p.body.includes(`--${boundary}`))) throw new RangeError('boundary: occurs inside a part');
  let out = '';
  for (const p of parts) {
    out += `--${boundary}\r\nContent-Type: ${p.contentType}\r\n`;
    if (p.contentDisposition) out += `Content-Disposition: ${p.contentDisposition}\r\n`;
    // RFC 2046 §5.1.1: the CRLF before the next delimiter belongs to the delimiter, not to the part
    out += `\r\n${p.body}\r\n`;
  }
  out += `--${boundary}--\r\n`;
  return { contentType: `multipart/mixed;boundary=${boundary}`, body: new TextEncoder().encode(out) };
}

/**
 * The 200 OK body of a retrieval INVITE that negotiated AoC: the SDP answer and the AoC-S (RFC 5621 §3), and the
 * header the 200 must carry with it: `Content-Disposition: session` on the multipart body as a whole. A UA infers
 * "render" for a body other than application/sdp that has none (RFC 3261 §13.2.1, §20.11), and sip.js then finds no
 * answer in the 200 and hangs up; with it, the body is read as the session description, whose SDP part is the answer.
 */
export function sdpWithAoc(sdp: string, aocXml: string): { contentType: string; body: Uint8Array; headers: [string, string][] } {
  const m = buildMultipartMixed([
    { contentType: 'application/sdp', body: sdp },
    { contentType: AOC_CONTENT_TYPE, contentDisposition: 'signal;handling=optional', body: aocXml },
  ]);
  return { ...m, headers: [['Content-Disposition', 'session']] };
}
