/**
 * Test-only (imported by `*.spec.ts` only, never by production code): small fakes for the unit specs of the SIP
 * router and handlers — requests parsed from text, a server transaction that records its answers, and a fake of
 * the front's port (libs/sip's fake clock) that records what is sent.
 */
import { createResponse, FakeClock, parseSipMessage, SipRequest, type Dialog, type InviteServerTransaction } from '@imc/sip';
import { nodeRandom } from '@imc/msrp-node';
import type { SipFlow } from '@imc/sip-node';
import type { ServerTx } from './sip-context';
import { withBody, type ContactFlow, type InDialogBody, type SipFrontLookups, type SipFrontPort } from './sip-port';

let seq = 0;

/** A request as a client would send it (From tag, fresh branch and Call-ID unless given). */
export function request(method: string, uri: string, headers: Record<string, string> = {}, body = ''): SipRequest {
  const n = ++seq;
  const h: Record<string, string> = {
    Via: `SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKspec${n}`,
    'Max-Forwards': '70',
    From: `<sip:alice@example.com>;tag=f${n}`,
    To: `<${uri}>`,
    'Call-ID': `call-${n}@192.0.2.9`,
    CSeq: `1 ${method}`,
    ...headers,
    'Content-Length': String(Buffer.byteLength(body)),
  };
  const text = `${method} ${uri} SIP/2.0\r\n${Object.entries(h)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n${body}`;
  const parsed = parseSipMessage(new TextEncoder().encode(text));
  if (!parsed.ok || !(parsed.message instanceof SipRequest)) throw new Error(`bad test request: ${parsed.ok ? 'a response' : parsed.reason}`);
  return parsed.message;
}

export interface Answer {
  status: number;
  reason?: string;
  headers: [string, string][];
  toTag?: string;
}

/** A flow that records what is written on it. */
export function fakeFlow(transport = 'TCP', id = 'flow-1'): SipFlow & { written: Uint8Array[] } {
  const written: Uint8Array[] = [];
  return { transport, reliable: transport !== 'UDP', remoteAddress: '192.0.2.9', remotePort: 5060, id, open: true, send: (b: Uint8Array) => void written.push(b), written } as unknown as SipFlow & { written: Uint8Array[] };
}

/** A server transaction whose answers are recorded in `answers` (its state follows them like a real one). */
export function serverTx(req: SipRequest, flow: SipFlow = fakeFlow()): ServerTx & { answers: Answer[] } {
  const answers: Answer[] = [];
  const tx = { state: 'Trying', request: req } as unknown as ServerTx['tx'];
  return {
    request: req,
    flow,
    sink: { reliable: true, send: () => undefined },
    tx,
    answers,
    respond(status, reason, opts = {}) {
      answers.push({ status, reason, headers: opts.headers ?? [], toTag: opts.toTag });
      (tx as { state: string }).state = status >= 200 ? 'Completed' : 'Proceeding';
      return createResponse(req, status, reason, opts);
    },
  };
}

/** The front's port with a fake clock; `sent` records every request sent and `status` answers them. */
export class FakeSipFront implements SipFrontPort, SipFrontLookups {
  readonly clock = new FakeClock();
  readonly timers = { T1: 500, T2: 4000, T4: 5000 };
  readonly random = nodeRandom;
  readonly sent: { req: SipRequest; flow: SipFlow }[] = [];
  /** The final status each sent request gets. */
  status: number | 'timeout' = 200;
  /** Flows registered contacts are reachable on, by flow id. */
  readonly flows = new Map<string, SipFlow>();
  readonly invites = new Map<string, InviteServerTransaction>();

  viaFor(flow: SipFlow) {
    return { transport: flow.transport, host: 'im.example.com', port: 5060 };
  }

  sinkFor(flow: SipFlow) {
    return { reliable: flow.reliable, send: (b: Uint8Array) => flow.send(b) };
  }

  private waiters: { n: number; wake: () => void }[] = [];

  async send(req: SipRequest, flow: SipFlow): Promise<number | 'timeout'> {
    this.sent.push({ req, flow });
    for (const w of this.waiters.filter((x) => this.sent.length >= x.n)) w.wake();
    return this.status;
  }

  /** Resolves once `n` requests in all have been sent. */
  sentCount(n: number): Promise<void> {
    if (this.sent.length >= n) return Promise.resolve();
    return new Promise((wake) => this.waiters.push({ n, wake }));
  }

  sendInDialog(dialog: Dialog, flow: SipFlow, method: string, body?: InDialogBody): Promise<number | 'timeout'> {
    return this.send(withBody(dialog.createRequest(method, this.viaFor(flow)), body), flow);
  }

  async flowTo(c: ContactFlow): Promise<SipFlow | undefined> {
    return this.flows.get(c.flowId);
  }

  inviteFor(cancel: SipRequest): InviteServerTransaction | undefined {
    return this.invites.get(cancel.callId);
  }
}
