/**
 * Builds responses to requests (RFC 3261 §8.2.6.2): From, Call-ID, CSeq and every Via copied in order, To copied
 * with a tag added when the request had none (except for 100 Trying, §8.2.6.2 "…the To tag MUST NOT be added to
 * 100"), and RFC 3581 received/rport stamped on the top Via by `stampVia` on receipt.
 */
import { REASONS, SipRequest, SipResponse } from './sip-message';
import { RandomSource, randomToken, webCryptoRandom } from './random';

/** Requests whose 1xx (with a To tag) and 2xx responses create a dialog here (RFC 3261 §12.1, RFC 6665 §4.1). */
const DIALOG_FORMING = new Set(['INVITE', 'SUBSCRIBE']);

export interface ResponseOptions {
  toTag?: string;
  /** Where a To tag is drawn from when one must be added and `toTag` is not given (default: Web Crypto). */
  random?: RandomSource;
  headers?: [string, string][];
  body?: Uint8Array;
  contentType?: string;
}

export function createResponse(req: SipRequest, status: number, reason?: string, opts: ResponseOptions = {}): SipResponse {
  const res = new SipResponse(status, reason ?? REASONS[status] ?? 'Unknown');
  for (const h of req.headers) if (h.key === 'via') res.headers.push({ ...h });
  const from = req.get('from');
  if (from !== undefined) res.add('From', from);
  let to = req.get('to');
  if (to !== undefined) {
    if (status > 100 && !/;\s*tag=/i.test(to.replace(/<[^>]*>/, ''))) to = `${to};tag=${opts.toTag ?? randomToken(opts.random ?? webCryptoRandom)}`; // §19.3: cryptographically random
    res.add('To', to);
  }
  res.add('Call-ID', req.callId);
  res.add('CSeq', req.get('cseq') ?? '');
  // RFC 3261 §12.1.1: "When a UAS responds to a request with a response that establishes a dialog (such as a 2xx to
  // INVITE), the UAS MUST copy all Record-Route header field values from the request into the response … and MUST
  // maintain the order of those values." Without them a client behind a Record-Routing proxy sends its ACK and BYE
  // around the proxy, or the proxy drops them.
  if (status > 100 && status < 300 && DIALOG_FORMING.has(req.method)) for (const h of req.headers) if (h.key === 'record-route') res.headers.push({ ...h });
  for (const [n, v] of opts.headers ?? []) res.add(n, v);
  if (opts.body) {
    res.add('Content-Type', opts.contentType ?? 'application/octet-stream');
    res.body = opts.body;
  }
  return res;
}

/**
 * RFC 3261 §18.2.1 + RFC 3581 §4: on receipt, add `received` when the top Via's sent-by differs from the source
 * address, and fill an empty `rport` with the source port, so responses go back where the request came from.
 */
export function stampVia(req: SipRequest, sourceAddress: string, sourcePort: number): void {
  const idx = req.headers.findIndex((h) => h.key === 'via');
  if (idx < 0) return;
  const h = req.headers[idx];
  // only the first value of a possibly comma-joined header line
  const comma = h.value.search(/,(?=\s*SIP\s*\/)/i);
  const top = comma < 0 ? h.value : h.value.slice(0, comma);
  const rest = comma < 0 ? '' : h.value.slice(comma);
  let v = top;
  const hostM = /^SIP\s*\/\s*2\.0\s*\/\s*\S+\s+(\[[^\]]+\]|[^;:\s]+)/i.exec(v);
  const host = hostM ? hostM[1].replace(/^\[|\]$/g, '') : '';
  const hasRport = /;\s*rport(?=[;\s]|$)/i.test(v);
  if (host !== sourceAddress || hasRport) {
    v = v.replace(/;\s*received=[^;]*/i, '');
    v += `;received=${sourceAddress}`;
  }
  if (hasRport) v = v.replace(/;\s*rport(?=[;\s]|$)/i, `;rport=${sourcePort}`);
  req.headers[idx] = { ...h, value: v + rest };
}

/** Where a response to this request goes (RFC 3261 §18.2.2 with RFC 3581 §5). */
export function responseTarget(req: SipRequest): { host: string; port: number } | undefined {
  const via = req.topVia;
  if (!via) return undefined;
  const host = via.params.received ?? via.host.replace(/^\[|\]$/g, '');
  const rport = via.params.rport;
  const port = rport ? Number(rport) : via.port ?? 5060;
  return { host, port };
}
