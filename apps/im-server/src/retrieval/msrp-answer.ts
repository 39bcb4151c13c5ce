/**
 * Step 4 of retrieval-flow.md: the 200 OK to the retrieval INVITE and its body, the SDP answer with our MSRP path
 * (RFC 4975 §8; a=setup per RFC 6135, decided in msrp-endpoint.ts). The body is built by one function,
 * `answerBody`, so that a body part beside the SDP can be added there without touching the session.
 */
import { createResponse, SipRequest, SipResponse } from '@imc/sip';
import { buildMsrpAnswer } from '@imc/msrp';
import type { MsrpAnswerPlan } from './msrp-endpoint';
import type { RetrievalConfig } from './retrieval-ports';

type Plan = Extract<MsrpAnswerPlan, { ok: true }>;

/** The 200 OK's body: the SDP answer, send-only, accepting CPIM-wrapped messages and IMDN reports. */
export function answerBody(plan: Plan, c: Pick<RetrievalConfig, 'advertisedHost'>): { contentType: string; body: Uint8Array } {
  const sdp = buildMsrpAnswer({
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
  return { contentType: 'application/sdp', body: new TextEncoder().encode(sdp) };
}

/** The 200 OK: our tag, a Contact on the flow's transport and port, the methods we allow, the answer body. */
export function answerInvite(
  req: SipRequest,
  o: { localTag: string; contactPort: number; transport: string; plan: Plan; config: Pick<RetrievalConfig, 'advertisedHost' | 'deferredUser'> },
): SipResponse {
  const c = o.config;
  const { contentType, body } = answerBody(o.plan, c);
  return createResponse(req, 200, 'OK', {
    toTag: o.localTag,
    headers: [
      ['Contact', `<sip:${c.deferredUser}@${c.advertisedHost}:${o.contactPort};transport=${o.transport.toLowerCase()}>`],
      ['Allow', 'INVITE, ACK, BYE, CANCEL, OPTIONS'],
    ],
    body,
    contentType,
  });
}
