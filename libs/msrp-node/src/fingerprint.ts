/**
 * RFC 4572 §5: the certificate a TLS peer presents must hash to the `a=fingerprint` of its SDP. One check for the
 * server (connecting to a client that offered a fingerprint) and the clients (checking the server's answer).
 */
export interface SdpFingerprint {
  /** `sha-256` or `sha-1`, lower case. */
  hash: string;
  /** `AB:CD:…`, upper case. */
  value: string;
}

/** The `a=fingerprint` line of an SDP, if any. */
export function sdpFingerprint(sdp: string): SdpFingerprint | undefined {
  const m = /^a=fingerprint:(\S+) (\S+)/m.exec(sdp);
  return m ? { hash: m[1].toLowerCase(), value: m[2].toUpperCase() } : undefined;
}

/** undefined when the certificate matches, else the reason (an unsupported hash, or a mismatch). */
export function checkFingerprint(want: SdpFingerprint, cert: { fingerprint256?: string; fingerprint?: string }, who = 'the certificate'): Error | undefined {
  if (want.hash !== 'sha-256' && want.hash !== 'sha-1') return new Error(`unsupported fingerprint hash ${want.hash}`);
  const got = want.hash === 'sha-256' ? cert.fingerprint256 : cert.fingerprint;
  return got?.toUpperCase() === want.value ? undefined : new Error(`${who} does not match the SDP fingerprint (RFC 4572)`);
}
