/**
 * MSRP URIs (RFC 4975 §6, §9): `msrp[s]://[userinfo@]host[:port]/session-id;transport[;params]`, and their
 * comparison (§6.1): scheme, host and transport case-insensitively, the port as a number, the session-id exactly
 * ("… the session-id part is compared as case sensitive"); userinfo and other URI parameters do not take part.
 */
export interface MsrpUri {
  scheme: 'msrp' | 'msrps';
  host: string;
  port?: number;
  sessionId: string;
  transport: string;
}

const URI = /^(msrps?):\/\/(?:[^@/\s]*@)?(\[[0-9A-Fa-f:.]+\]|[^:/\s;]+)(?::(\d{1,5}))?\/([^;/?\s]+);([A-Za-z0-9-]+)(?:;\S*)?$/i;

export function parseMsrpUri(text: string): MsrpUri | undefined {
  const m = URI.exec(text.trim());
  if (!m) return undefined;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && port > 65535) return undefined;
  return { scheme: m[1].toLowerCase() as MsrpUri['scheme'], host: m[2].toLowerCase(), port, sessionId: m[4], transport: m[5].toLowerCase() };
}

/** §6.1 comparison; an unparseable URI equals nothing. */
export function sameMsrpUri(a: string, b: string): boolean {
  const x = parseMsrpUri(a);
  const y = parseMsrpUri(b);
  return !!x && !!y && x.scheme === y.scheme && x.host === y.host && x.port === y.port && x.sessionId === y.sessionId && x.transport === y.transport;
}
