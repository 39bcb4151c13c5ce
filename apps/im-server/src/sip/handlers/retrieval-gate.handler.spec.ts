/** The retrieval gate with a fake of the front's port and of the RetrievalHandler (identity from From: SIP_AUTH=none). */
import { InviteServerState, type InviteServerTransaction, type SipRequest, type SipResponse } from '@imc/sip';
import { loadImServerConfig } from '../../config';
import { ImMetrics } from '../../observability/im-metrics';
import { SipAuthenticator } from '../../auth/sip-authenticator';
import type { RetrievalHandler, ServerTx } from '../sip-context';
import { FakeSipFront, request, serverTx } from '../test-fakes';
import { RetrievalGateHandler } from './retrieval-gate.handler';

function gate(answers: { bye?: boolean; cancel?: boolean; ack?: boolean } = {}) {
  const config = loadImServerConfig({ NODE_ENV: 'development', SIP_AUTH: 'none', LOG_LEVEL: 'silent' });
  // with SIP_AUTH=none the authenticator reads From and touches neither the digest check nor Redis
  const auth = new SipAuthenticator(config, undefined as never, undefined as never, undefined as never, new ImMetrics(false), () => undefined);
  const calls: string[] = [];
  const retrieval: RetrievalHandler = {
    activeSessions: 0,
    onInvite: async (_tx: ServerTx, aor: string) => void calls.push(`invite ${aor}`),
    onAck: (req: SipRequest) => (calls.push(`ack ${req.callId}`), answers.ack ?? false),
    onBye: (tx: ServerTx) => (calls.push(`bye ${tx.request.callId}`), answers.bye ?? false),
    onCancel: (t: InviteServerTransaction) => (calls.push(`cancel ${t.request.callId}`), answers.cancel ?? false),
    shutdown: async () => undefined,
  };
  const front = new FakeSipFront();
  return { handler: new RetrievalGateHandler(config, front, auth, retrieval), front, calls };
}

/** A pending INVITE transaction that records what it is answered. */
function pendingInvite(callId: string): InviteServerTransaction & { got: SipResponse[] } {
  const got: SipResponse[] = [];
  const req = request('INVITE', 'sip:deferred@example.com', { 'Call-ID': callId });
  return { request: req, state: InviteServerState.Proceeding, got, respond: (r: SipResponse) => void got.push(r) } as unknown as InviteServerTransaction & { got: SipResponse[] };
}

describe('RetrievalGateHandler: INVITE', () => {
  it('answers 100 Trying at once, then hands the INVITE to retrieval with the caller’s authenticated AOR', async () => {
    const { handler, calls } = gate();
    const tx = serverTx(request('INVITE', 'sip:deferred@example.com'));
    await handler.handle(tx);
    expect(tx.answers.map((a) => a.status)).toEqual([100]);
    expect(calls).toEqual(['invite sip:alice@example.com']);
  });

  it.each([
    ['another user', 404, 'sip:bob@example.com', {}, /only sip:deferred@example.com takes INVITEs here/],
    ['a re-INVITE', 488, 'sip:deferred@example.com', { To: '<sip:deferred@example.com>;tag=ours' }, /re-INVITE is not supported/],
    ['an identity that is no subscriber', 400, 'sip:deferred@example.com', { From: `<sip:${'a'.repeat(300)}@example.com>;tag=x` }, /./],
  ])('%s → 100 then %d with a Warning; retrieval never sees it', async (_n, status, uri, headers, warning) => {
    const { handler, calls } = gate();
    const tx = serverTx(request('INVITE', uri, headers));
    await handler.handle(tx);
    expect(tx.answers.map((a) => a.status)).toEqual([100, status]);
    expect(tx.answers[1].headers.find(([k]) => k === 'Warning')?.[1]).toMatch(warning);
    expect(calls).toEqual([]);
  });
});

describe('RetrievalGateHandler: ACK, BYE and CANCEL go to retrieval', () => {
  it('an ACK is retrieval’s; its answer says whether a dialog matched', () => {
    expect(gate({ ack: true }).handler.onAck(request('ACK', 'sip:deferred@example.com'))).toBe(true);
    expect(gate({ ack: false }).handler.onAck(request('ACK', 'sip:deferred@example.com'))).toBe(false);
  });

  it('a BYE no session knows → 481; one it knows is answered by the session', async () => {
    const unknown = serverTx(request('BYE', 'sip:deferred@example.com'));
    await gate({ bye: false }).handler.handle(unknown);
    expect(unknown.answers.map((a) => a.status)).toEqual([481]);
    const known = serverTx(request('BYE', 'sip:deferred@example.com'));
    await gate({ bye: true }).handler.handle(known);
    expect(known.answers).toEqual([]);
  });

  it('a CANCEL matching no pending INVITE → 481', async () => {
    const { handler, calls } = gate();
    const tx = serverTx(request('CANCEL', 'sip:deferred@example.com'));
    await handler.handle(tx);
    expect(tx.answers.map((a) => a.status)).toEqual([481]);
    expect(calls).toEqual([]);
  });

  it('a CANCEL before the session exists: 200 to the CANCEL and 487 to the INVITE here (RFC 3261 §9.2)', async () => {
    const { handler, front, calls } = gate({ cancel: false });
    const invite = pendingInvite('c1@x');
    front.invites.set('c1@x', invite);
    const tx = serverTx(request('CANCEL', 'sip:deferred@example.com', { 'Call-ID': 'c1@x' }));
    await handler.handle(tx);
    expect(tx.answers.map((a) => a.status)).toEqual([200]);
    expect(calls).toEqual(['cancel c1@x']);
    expect(invite.got.map((r) => [r.status, r.reason])).toEqual([[487, 'Request Terminated']]);
  });

  it('a CANCEL of a session in progress: 200 to the CANCEL, and the session answers its INVITE', async () => {
    const { handler, front } = gate({ cancel: true });
    const invite = pendingInvite('c2@x');
    front.invites.set('c2@x', invite);
    const tx = serverTx(request('CANCEL', 'sip:deferred@example.com', { 'Call-ID': 'c2@x' }));
    await handler.handle(tx);
    expect(tx.answers.map((a) => a.status)).toEqual([200]);
    expect(invite.got).toEqual([]);
  });
});
