/**
 * Step 4 of retrieval-flow.md: the 200 OK to the retrieval INVITE and its body, the SDP answer with our MSRP path
 * (RFC 4975 §8; a=setup per RFC 6135, decided in msrp-endpoint.ts) — and, when the INVITE negotiated advice of charge,
 * the AoC-S beside it in a `multipart/mixed` body (`SessionAoc.answerBody`, retrieval-flow.md "Advice of charge").
 */
import { createResponse, SipRequest, SipResponse } from '@imc/sip';
import { accepts, buildMsrpAnswer, MsrpMedia, parseMsrpOffer } from '@imc/msrp';
import type { ReserveResponse } from '@imc/ch2';
import type { SessionAoc } from '../aoc/session-aoc';
import { MsrpAnswerPlan, MsrpListeners, planMsrpAnswer } from './msrp-endpoint';
import type { RetrievalConfig } from './retrieval-ports';

type Plan = Extract<MsrpAnswerPlan, { ok: true }>;
export type MsrpPlan = Plan;

/** The INVITE's MSRP offer (an m=message line accepting message/cpim) and the plan of our answer; else why not (488). */
export function readOffer(req: SipRequest, listeners: MsrpListeners, c: Parameters<typeof planMsrpAnswer>[2]): { ok: true; media: MsrpMedia; plan: Plan } | { ok: false; reason: string } {
  if (req.contentType !== 'application/sdp') return { ok: false, reason: 'an SDP offer with an MSRP m=message line is required' };
  const offer = parseMsrpOffer(req.bodyText());
  if (!offer.ok) return offer;
  if (!accepts(offer.media.acceptTypes, 'message/cpim')) return { ok: false, reason: 'a=accept-types must allow message/cpim' };
  const plan = planMsrpAnswer(offer.media, listeners, c);
  return plan.ok ? { ok: true, media: offer.media, plan } : plan;
}

/** The SDP answer: send-only, accepting CPIM-wrapped messages and IMDN reports. */
export function answerSdp(plan: Plan, c: Pick<RetrievalConfig, 'advertisedHost'>): string {
  return buildMsrpAnswer({
    address: c.advertisedHost,
    port: plan.port,
    proto: plan.proto,
    path: plan.localPath,
    setup: plan.setup,
    fingerprint: plan.fingerprint,
    acceptTypes: ['message/cpim', 'message/imdn+xml'],
    acceptWrappedTypes: ['*'],
    direction: 'sendonly',
  });
}

/**
 * The 200 OK: our tag, a Contact on the flow's transport and port, the methods we allow, the answer body — SDP only,
 * or SDP + AoC-S with the headers that go with it (`Content-Disposition: session`) when AoC was negotiated and the
 * reservation (`reserve`, when it was SUCCESS) priced the granted messages.
 */
export function answerInvite(
  req: SipRequest,
  o: {
    localTag: string;
    contactPort: number;
    transport: string;
    plan: Plan;
    config: Pick<RetrievalConfig, 'advertisedHost' | 'deferredUser'>;
    aoc: Pick<SessionAoc, 'answerBody'>;
    reserve: ReserveResponse | undefined;
  },
): SipResponse {
  const c = o.config;
  const { contentType, body, headers = [] } = o.aoc.answerBody(answerSdp(o.plan, c), o.reserve);
  return createResponse(req, 200, 'OK', {
    toTag: o.localTag,
    headers: [
      ['Contact', `<sip:${c.deferredUser}@${c.advertisedHost}:${o.contactPort};transport=${o.transport.toLowerCase()}>`],
      ['Allow', 'INVITE, ACK, BYE, CANCEL, OPTIONS'],
      ...headers,
    ],
    body,
    contentType,
  });
}
