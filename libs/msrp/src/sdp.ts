/**
 * SDP for MSRP sessions (RFC 4975 §8, RFC 4145/6135 a=setup, RFC 7977 for WebSocket): parse an offer's
 * `m=message` line and attributes, refuse unusable offers with the reason (→ SIP 488), build the answer.
 */
export type MsrpProto = 'TCP/MSRP' | 'TCP/TLS/MSRP' | 'TCP/WS/MSRP' | 'TCP/WSS/MSRP';
export type Setup = 'active' | 'passive' | 'actpass' | 'holdconn';

export interface MsrpMedia {
  port: number;
  proto: MsrpProto;
  path: string[];
  acceptTypes: string[];
  acceptWrappedTypes: string[];
  setup: Setup;
  maxSize?: number;
  direction?: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  connectionAddress?: string;
  /** RFC 4572 `a=fingerprint:<hash> <hex>` of the certificate the peer will present over TLS (RFC 4975 §14.2). */
  fingerprint?: { hash: string; value: string };
}

const PROTOS: MsrpProto[] = ['TCP/MSRP', 'TCP/TLS/MSRP', 'TCP/WS/MSRP', 'TCP/WSS/MSRP'];

export type OfferResult = { ok: true; media: MsrpMedia } | { ok: false; reason: string };

/** Parses an SDP offer and returns its first usable MSRP media description. */
export function parseMsrpOffer(sdp: string): OfferResult {
  const lines = sdp.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  let conn: string | undefined;
  let media: MsrpMedia | undefined;
  let inMessage = false;
  let sawMessage = false;
  for (const l of lines) {
    if (l.startsWith('c=') && !media) conn = l.split(' ')[2];
    if (l.startsWith('m=')) {
      if (media) break;
      const [, kind, port, proto] = /^m=(\S+) (\d+) (\S+)/.exec(l) ?? [];
      inMessage = kind === 'message';
      if (inMessage) {
        sawMessage = true;
        if (!PROTOS.includes(proto as MsrpProto)) continue;
        media = { port: Number(port), proto: proto as MsrpProto, path: [], acceptTypes: [], acceptWrappedTypes: [], setup: 'active', connectionAddress: conn };
      }
      continue;
    }
    if (!media || !inMessage) continue;
    if (l.startsWith('c=')) media.connectionAddress = l.split(' ')[2];
    const a = /^a=([^:]+)(?::(.*))?$/.exec(l);
    if (!a) continue;
    const [, name, value = ''] = a;
    if (name === 'path') media.path = value.split(/\s+/).filter(Boolean);
    else if (name === 'accept-types') media.acceptTypes = value.split(/\s+/).filter(Boolean);
    else if (name === 'accept-wrapped-types') media.acceptWrappedTypes = value.split(/\s+/).filter(Boolean);
    else if (name === 'setup') media.setup = value.trim() as Setup;
    else if (name === 'max-size') media.maxSize = Number(value);
    else if (name === 'fingerprint') {
      const [hash, fp] = value.trim().split(/\s+/);
      if (hash && fp) media.fingerprint = { hash: hash.toLowerCase(), value: fp.toUpperCase() };
    }
    else if (['sendrecv', 'sendonly', 'recvonly', 'inactive'].includes(name)) media.direction = name as MsrpMedia['direction'];
  }
  if (!media) return { ok: false, reason: sawMessage ? 'm=message line with an unsupported transport (TCP/MSRP expected)' : 'no m=message MSRP media line' };
  if (!media.path.length) return { ok: false, reason: 'MSRP media without a=path' };
  if (!media.acceptTypes.length) return { ok: false, reason: 'MSRP media without a=accept-types' };
  return { ok: true, media };
}

/** RFC 4145 §4.1 / RFC 6135: "active" answers an offer of actpass or passive; "passive" answers active. */
export function answerSetup(offer: Setup): 'active' | 'passive' {
  return offer === 'active' ? 'passive' : 'active';
}

/** Whether a type list (with `*` and `type/*` wildcards) accepts `type`. */
export function accepts(list: string[], type: string): boolean {
  const [major] = type.split('/');
  return list.some((t) => t === '*' || t.toLowerCase() === type.toLowerCase() || t.toLowerCase() === `${major}/*`);
}

export function buildMsrpAnswer(a: {
  address: string;
  port: number;
  proto: MsrpProto;
  path: string;
  setup: 'active' | 'passive';
  acceptTypes: string[];
  acceptWrappedTypes?: string[];
  direction?: 'sendonly' | 'sendrecv';
  sessionVersion?: number;
  /** RFC 4572 fingerprint of our TLS certificate, e.g. `SHA-256 AB:CD:…`, for a `TCP/TLS/MSRP` answer (RFC 4975 §14.2). */
  fingerprint?: string;
}): string {
  const ip = a.address.includes(':') ? 'IP6' : 'IP4';
  const v = a.sessionVersion ?? Math.floor(Date.now() / 1000);
  return [
    'v=0',
    `o=- ${v} ${v} IN ${ip} ${a.address}`,
    's=-',
    `c=IN ${ip} ${a.address}`,
    't=0 0',
    `m=message ${a.port} ${a.proto} *`,
    `a=path:${a.path}`,
    `a=accept-types:${a.acceptTypes.join(' ')}`,
    ...(a.acceptWrappedTypes?.length ? [`a=accept-wrapped-types:${a.acceptWrappedTypes.join(' ')}`] : []),
    `a=setup:${a.setup}`,
    ...(a.fingerprint ? [`a=fingerprint:${a.fingerprint}`] : []),
    ...(a.direction ? [`a=${a.direction}`] : []),
    '',
  ].join('\r\n');
}
