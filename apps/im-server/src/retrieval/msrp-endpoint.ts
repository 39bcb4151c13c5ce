/**
 * Where a retrieval's MSRP session lives, decided from the client's SDP offer (RFC 4975 §8, §14; RFC 6135):
 *
 * - the answer uses the transport of the offer (RFC 3264 §6: the answer's m-line keeps the offer's transport):
 *   `TCP/TLS/MSRP` → our `msrps://host:<MSRP_TLS_PORT>/<sid>;tcp` path on the TLS listener, with the RFC 4572
 *   fingerprint of our certificate; `TCP/MSRP` → `msrp://…;tcp`; `TCP/WS(S)/MSRP` → `msrp://…;ws` (RFC 7977);
 * - TLS is never forced on a client that did not offer it (the answer cannot change the offer's transport), but
 *   `MSRP_REQUIRE_TLS=true` refuses plain `TCP/MSRP` offers with 488, so a deployment can insist on `msrps`;
 * - a TLS offer when no certificate is configured is refused with 488 (never answered with plain TCP);
 * - the session-id is fresh for every session, 128 random bits (§14.1 asks for at least 80).
 *
 * When we are the active side (the client offered `actpass` or `passive`), `connectToClient` opens the connection:
 * over TLS for an `msrps` path, checking the client's certificate against the `a=fingerprint` of its offer
 * (RFC 4572 §5) or, without one, against the trusted CAs and the host of its path (RFC 4975 §14.2).
 */
import { X509Certificate } from 'node:crypto';
import { answerSetup, MsrpConnection, MsrpConnectionEvents, MsrpMedia, MsrpProto, newSessionId } from '@imc/msrp';
import { checkFingerprint, connectMsrpTcp, connectMsrpTls, nodeRandom } from '@imc/msrp-node';

export interface MsrpListeners {
  tcp: number;
  ws: number;
  tls: number;
}

export type MsrpAnswerPlan =
  | { ok: true; proto: MsrpProto; port: number; localPath: string; setup: 'active' | 'passive'; fingerprint?: string }
  | { ok: false; reason: string };

/** `SHA-256 AB:CD:…` of a PEM certificate (the first of a chain), as SDP's a=fingerprint carries it. */
export function certificateFingerprint(pem: string): string {
  return `SHA-256 ${new X509Certificate(pem).fingerprint256}`;
}

export function planMsrpAnswer(
  media: MsrpMedia,
  listeners: MsrpListeners,
  c: { advertisedHost: string; msrpTls?: { cert: string; require: boolean }; msrpSetup?: 'active' | 'passive' },
): MsrpAnswerPlan {
  // MSRP_SETUP=passive: to an actpass offer, let the client connect (a server in a container may not reach it);
  // an `active` or `passive` offer is always answered its opposite (RFC 6135 §4)
  const setup = (offered: MsrpMedia['setup']) => (c.msrpSetup === 'passive' && offered === 'actpass' ? 'passive' : answerSetup(offered));
  // RFC 4975 §14.1 / RFC 3264 §6: the scheme of the offered path matches its transport (msrps ⇔ TCP/TLS/MSRP)
  const scheme = /^(msrps?):/i.exec(media.path[media.path.length - 1] ?? '')?.[1]?.toLowerCase();
  if (media.proto === 'TCP/TLS/MSRP' && scheme !== 'msrps') return { ok: false, reason: 'a TCP/TLS/MSRP offer needs an msrps: a=path' };
  if (media.proto === 'TCP/MSRP' && scheme !== 'msrp') return { ok: false, reason: 'a TCP/MSRP offer needs an msrp: a=path (msrps goes with TCP/TLS/MSRP)' };
  const sid = newSessionId(nodeRandom);
  const host = c.advertisedHost.includes(':') ? `[${c.advertisedHost}]` : c.advertisedHost;
  switch (media.proto) {
    case 'TCP/WS/MSRP':
    case 'TCP/WSS/MSRP':
      if (!listeners.ws) return { ok: false, reason: 'MSRP over WebSocket is not enabled here' };
      // MSRP_REQUIRE_TLS: a plaintext WebSocket offer is refused like plaintext TCP; a TCP/WSS/MSRP offer is answered
      // on the WebSocket listener, which must then sit behind a TLS-terminating proxy (the server has no wss listener)
      if (media.proto === 'TCP/WS/MSRP' && c.msrpTls?.require) return { ok: false, reason: 'MSRP over TLS is required here: offer TCP/WSS/MSRP (through the TLS proxy) or TCP/TLS/MSRP' };
      // RFC 7977 §5.3: a WebSocket client is always the active side
      return { ok: true, proto: media.proto, port: listeners.ws, localPath: `msrp://${host}:${listeners.ws}/${sid};ws`, setup: 'passive' };
    case 'TCP/TLS/MSRP':
      if (!listeners.tls || !c.msrpTls) return { ok: false, reason: 'MSRP over TLS is not enabled here' };
      return {
        ok: true,
        proto: 'TCP/TLS/MSRP',
        port: listeners.tls,
        localPath: `msrps://${host}:${listeners.tls}/${sid};tcp`,
        setup: setup(media.setup),
        fingerprint: certificateFingerprint(c.msrpTls.cert),
      };
    case 'TCP/MSRP':
      if (c.msrpTls?.require) return { ok: false, reason: 'MSRP over TLS is required here: offer TCP/TLS/MSRP with an msrps path' };
      if (!listeners.tcp) return { ok: false, reason: 'MSRP over TCP is not enabled here' };
      return { ok: true, proto: 'TCP/MSRP', port: listeners.tcp, localPath: `msrp://${host}:${listeners.tcp}/${sid};tcp`, setup: setup(media.setup) };
  }
}


/** We are the active side: connect to the client's path (TCP, or TLS for msrps). */
export async function connectToClient(media: MsrpMedia, events: MsrpConnectionEvents): Promise<MsrpConnection> {
  const target = media.path[0];
  const m = /^(msrps?):\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:/]+):(\d+)\//i.exec(target);
  if (!m) throw new Error('unusable a=path');
  const host = m[2].replace(/^\[|\]$/g, '');
  const port = Number(m[3]);
  const none = { find: () => undefined };
  if (m[1].toLowerCase() !== 'msrps') return connectMsrpTcp(host, port, none, events);
  const fp = media.fingerprint;
  // with a fingerprint the CA chain does not matter (self-signed certificates are the norm, RFC 4572 §1)
  return connectMsrpTls(host, port, none, events, {}, fp ? { verifyPeer: (cert) => checkFingerprint(fp, cert) } : {});
}
