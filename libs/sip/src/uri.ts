/**
 * SIP URIs and name-addr values (RFC 3261 §19.1, §20.10, §25.1): `sip:user@host:port;params?headers`,
 * `"Display" <uri>;tag=…`. Parsing is strict enough to refuse garbage and lenient where deployed clients differ.
 */
export interface SipUri {
  scheme: 'sip' | 'sips' | 'tel';
  user?: string;
  host: string;
  port?: number;
  params: Record<string, string | null>;
  headers?: string;
}

export interface NameAddr {
  displayName?: string;
  uri: SipUri;
  /** The URI text as written. */
  uriText: string;
  /** Header parameters after the URI (e.g. tag, expires, q). */
  params: Record<string, string | null>;
}

/**
 * `scheme` is case-insensitive (§19.1.4 "comparisons of scheme … are case-insensitive"; RFC 3986 §3.1 "schemes are
 * case-insensitive"), so `SIP:` is read as `sip:`; the user part may hold the unreserved `;` `?` `/` (§25.1
 * user-unreserved, RFC 4475 §3.1.1.2).
 */
const URI_RE = /^(sips?):(?:([^@\s]+)@)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?((?:;[^;?\s]*)*)(?:\?(\S*))?$/i;

export function parseParams(text: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (!text) return out;
  for (const part of text.split(';')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq < 0) out[part.trim().toLowerCase()] = null;
    else out[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return out;
}

export function parseUri(text: string): SipUri | undefined {
  const t = text.trim();
  if (/^tel:/i.test(t)) {
    const [num, ...params] = t.slice(4).split(';');
    if (!/^\+?[0-9().-]+$/.test(num)) return undefined;
    return { scheme: 'tel', user: num.replace(/[().-]/g, ''), host: '', params: parseParams(params.join(';')) };
  }
  const m = URI_RE.exec(t);
  if (!m) return undefined;
  const port = m[4] ? Number(m[4]) : undefined;
  if (port !== undefined && port > 65535) return undefined;
  let user = m[2];
  if (user) {
    const colon = user.indexOf(':'); // user:password (deprecated, RFC 3261 §19.1.1)
    if (colon >= 0) user = user.slice(0, colon);
    try {
      user = decodeURIComponent(user);
    } catch {
      return undefined;
    }
  }
  return { scheme: m[1].toLowerCase() as 'sip' | 'sips', user, host: m[3].toLowerCase(), port, params: parseParams(m[5]), headers: m[6] };
}

/** The address-of-record of a URI: `scheme:user@host`, host lower-case, no port or parameters. */
export function aorOf(uri: SipUri): string {
  if (uri.scheme === 'tel') return `tel:${uri.user}`;
  return uri.user ? `${uri.scheme}:${uri.user}@${uri.host}` : `${uri.scheme}:${uri.host}`;
}

export function formatUri(u: SipUri): string {
  if (u.scheme === 'tel') return `tel:${u.user}`;
  let s = `${u.scheme}:`;
  if (u.user) s += `${encodeURIComponent(u.user).replace(/%2B/g, '+')}@`;
  s += u.host;
  if (u.port !== undefined) s += `:${u.port}`;
  for (const [k, v] of Object.entries(u.params)) s += v === null ? `;${k}` : `;${k}=${v}`;
  if (u.headers) s += `?${u.headers}`;
  return s;
}

/** Parses `"Name" <uri>;p=v`, `Name <uri>`, `<uri>` or a bare `uri;p=v` (where parameters belong to the header). */
export function parseNameAddr(text: string): NameAddr | undefined {
  const t = text.trim();
  let displayName: string | undefined;
  let uriText: string;
  let rest: string;
  const lt = t.indexOf('<');
  if (lt >= 0) {
    const gt = t.indexOf('>', lt);
    if (gt < 0) return undefined;
    const dn = t.slice(0, lt).trim();
    if (dn) displayName = dn.replace(/^"(.*)"$/, '$1').replace(/\\(.)/g, '$1');
    uriText = t.slice(lt + 1, gt).trim();
    rest = t.slice(gt + 1).trim();
  } else {
    // addr-spec without brackets: parameters after the first ';' are header parameters (RFC 3261 §20.10)
    const semi = t.indexOf(';');
    uriText = (semi < 0 ? t : t.slice(0, semi)).trim();
    rest = semi < 0 ? '' : t.slice(semi);
    if (/[\s]/.test(uriText)) return undefined;
  }
  const uri = parseUri(uriText);
  if (!uri) return undefined;
  if (rest && !rest.startsWith(';')) return undefined;
  return { displayName, uri, uriText, params: parseParams(rest.slice(1)) };
}

/** Splits a header value on commas that are outside quotes and angle brackets (multi-value headers, §7.3.1). */
export function splitHeaderValues(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 34 /* " */ && value.charCodeAt(i - 1) !== 92) quoted = !quoted;
    else if (!quoted && c === 60 /* < */) depth++;
    else if (!quoted && c === 62 /* > */) depth--;
    else if (!quoted && depth === 0 && c === 44 /* , */) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last) out.push(last);
  return out;
}
