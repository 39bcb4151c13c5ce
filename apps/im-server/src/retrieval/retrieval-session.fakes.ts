/**
 * Fakes of the retrieval session's own ports (retrieval-ports.ts) for `retrieval-session.spec.ts`, on libs/sip's
 * fake clock: a store in memory, a charging gateway that records each CH-2 call by the requestId it would carry
 * (request-ids.ts), an MSRP leg whose SENDs the spec answers, and a SIP front that records the BYEs it sends. Only
 * the spec imports this file.
 */
import { createResponse, FakeClock, InviteServerTransaction, parseSipMessage, SipRequest } from '@imc/sip';
import type { ReserveResponse } from '@imc/ch2';
import type { SendOutcome } from '@imc/msrp';
import { SeededRandom } from '../../../../libs/sip/src/test-random';
import { ImMetrics } from '../observability/im-metrics';
import type { ServerTx } from '../sip/sip-context';
import type { SipFrontPort } from '../sip/sip-port';
import type { StoredMessageMeta } from '../store/deferred-store';
import { RetrievalSession } from './retrieval-session';
import type { RetrievalCharging, RetrievalConfig, RetrievalSummary } from './retrieval-ports';
import { RequestIds } from './request-ids';

export const T = { T1: 500, T2: 4000, T4: 5000 };
export const AOR = 'sip:bob@example.com';
export const CALL_ID = 'c1';

export function deferred<V>() {
  let resolve!: (v: V) => void;
  const promise = new Promise<V>((r) => (resolve = r));
  return { promise, resolve };
}
/** Lets the fakes' already-settled promises run their continuations (no time passes). */
export const flush = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

function invite(accept?: string): SipRequest {
  const sdp = 'v=0\r\nc=IN IP4 127.0.0.1\r\nm=message 9 TCP/MSRP *\r\na=path:msrp://127.0.0.1:9/c;tcp\r\na=accept-types:message/cpim\r\na=setup:active\r\n';
  const raw =
    `INVITE sip:deferred@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc\r\nMax-Forwards: 70\r\n` +
    `From: <${AOR}>;tag=ft\r\nTo: <sip:deferred@example.com>\r\nCall-ID: ${CALL_ID}\r\nCSeq: 7 INVITE\r\nContact: <sip:bob@127.0.0.1:5070>\r\n${accept ? `Accept: ${accept}\r\n` : ''}` +
    `Content-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`;
  const r = parseSipMessage(new TextEncoder().encode(raw));
  if (!r.ok) throw new Error(r.reason);
  return r.message as SipRequest;
}

export interface SetupOptions {
  policy?: RetrievalConfig['chargingPolicy'];
  window?: number;
  validity?: number;
  messages?: number;
  holdReserve?: boolean;
  holdDebit?: boolean;
  /** The INVITE's Accept header (AoC is negotiated when it lists application/vnd.etsi.aoc+xml). */
  accept?: string;
  /** Which of the stored messages (by index) are receipts (IMDNs). */
  receipts?: number[];
}

/** Each message costs 6 (minor units, EUR); the account's balance is 100 less what was debited. */
export const PRICE = 6;

export function setup(o: SetupOptions = {}) {
  const clock = new FakeClock();
  const random = new SeededRandom(42);
  const wire: string[] = []; // status lines the INVITE transaction wrote (first copies and retransmissions)
  let last: Uint8Array | undefined;
  const sink = { reliable: false, send: (b: Uint8Array) => ((last = b), wire.push(new TextDecoder().decode(b).split('\r\n')[0])) };
  /** The last response the INVITE transaction wrote (the 200 OK), parsed. */
  const ok = () => {
    const r = last && parseSipMessage(last);
    if (!r || !r.ok) throw new Error('no response written');
    return r.message;
  };
  const req = invite(o.accept);
  const itx = new InviteServerTransaction(req, sink, clock, T);
  const respond: ServerTx['respond'] = (status, reason, opts = {}) => {
    const res = createResponse(req, status, reason, { random, ...opts });
    itx.respond(res);
    return res;
  };
  const tx: ServerTx = { request: req, flow: { transport: 'UDP' } as ServerTx['flow'], sink, tx: itx, respond };
  const byes: string[] = [];
  const byeBodies: ({ contentType: string; body: string } | undefined)[] = [];
  const sip: SipFrontPort = {
    clock,
    timers: T,
    random,
    viaFor: () => ({ transport: 'UDP', host: '127.0.0.1', port: 5060 }),
    sinkFor: () => sink,
    send: async () => 200,
    sendInDialog: async (_d, _f, method, b) => (byes.push(method), byeBodies.push(b && { contentType: b.contentType, body: Buffer.from(b.body).toString() }), 200),
  };
  const msgs: StoredMessageMeta[] = Array.from({ length: o.messages ?? 3 }, (_, i) => ({
    ...{ id: `m${i + 1}`, from: 'sip:alice@example.com', to: AOR, contentType: 'text/plain', octets: 10 },
    ...(o.receipts?.includes(i) ? { contentType: 'message/imdn+xml', receipt: true as const } : {}),
    ...{ receivedAt: new Date(0).toISOString(), expiresAt: new Date(864e5).toISOString() },
  }));
  const store = {
    locked: false,
    deleted: [] as string[],
    lockRetrieval: async () => ((store.locked = true), true),
    refreshRetrievalLock: async () => true,
    unlockRetrieval: async () => void (store.locked = false),
    pending: async () => msgs.filter((m) => !store.deleted.includes(m.id)),
    body: async (_aor: string, id: string) => Buffer.from(`body of ${id}`),
    delete: async (_aor: string, id: string) => (store.deleted.push(id), true),
  };
  // the CH-2 calls, each named by the requestId the gateway sends it under (request-ids.ts)
  const calls: string[] = [];
  const gates = { reserve: deferred<void>(), debit: deferred<void>() };
  let reservations = 0;
  let debited = 0;
  const validity = o.validity ?? 300;
  const charging: RetrievalCharging = {
    async reserve(_s, requestId, _sid, items) {
      calls.push(requestId);
      if (o.holdReserve) await gates.reserve.promise;
      const res: ReserveResponse = {
        ...{ requestId, result: 'SUCCESS', resultCode: 2001, reservationId: `R${++reservations}`, currency: 'EUR', reservedAmount: PRICE * items.length },
        ...{ grantedItems: items.map((i) => i.id), expiresAt: new Date(clock.now() + validity * 1000).toISOString() },
      };
      return { kind: 'answer', res };
    },
    async debit(_s, _sid, rid, item, outcome) {
      calls.push(`${RequestIds.debit(rid, item)} ${outcome}`);
      if (o.holdDebit) await gates.debit.promise;
      debited += PRICE;
      const res = { requestId: RequestIds.debit(rid, item), result: 'SUCCESS' as const, resultCode: 2001, cdrId: `cdr-${item}`, currency: 'EUR', debitedAmount: PRICE };
      return { kind: 'answer', res };
    },
    release: async (_s, _sid, rid) => (calls.push(RequestIds.release(rid)), { kind: 'queued' }),
    refund: async (_s, _sid, cdr) => (calls.push(RequestIds.refund(cdr)), { kind: 'queued' }),
    recordDeferredCharge: async (_s, sid, item) => void calls.push(RequestIds.deferredCharge(sid, item)),
    balance: async () => (calls.push('balance'), { requestId: 'b', result: 'SUCCESS', resultCode: 2001, currency: 'EUR', balance: 100 - debited }),
  };
  // the MSRP leg: each SEND waits for the spec's outcome (or is answered 200 at once with `autoDeliver`)
  const sends: { body: string; answer: (o: SendOutcome) => void }[] = [];
  const leg = {
    autoDeliver: false,
    drained: false,
    closed: false,
    open: () => ({
      id: 'msrp-1',
      send: (m: { body: Uint8Array | string }) => {
        const d = deferred<SendOutcome>();
        sends.push({ body: Buffer.from(m.body).toString(), answer: d.resolve });
        if (leg.autoDeliver) d.resolve({ kind: 'delivered' });
        return d.promise;
      },
      connect: async () => 200,
      drain: () => void (leg.drained = true),
      // like MsrpSession.close: a SEND still waiting for its response ends unanswered
      close: () => ((leg.closed = true), sends.forEach((s) => s.answer({ kind: 'unanswered' }))),
      disconnect: () => undefined,
    }),
  };
  const delivered: string[] = [];
  const ended: RetrievalSummary[] = [];
  const config: RetrievalConfig = {
    ...{ advertisedHost: '127.0.0.1', deferredUser: 'deferred', chargingPolicy: o.policy ?? 'on-delivery', failureHandling: 'terminate', chargingTimeoutMs: 2000 },
    ...{ reservationValiditySeconds: validity, msrpTimeoutMs: 30000, msrpChunkSize: 2048, msrpSendWindow: o.window ?? 1 },
    ...{ msrpConnectTimeoutMs: 60000, sessionIdleMs: 90000, successReport: false, msrpSetup: 'active' },
  };
  const session = new RetrievalSession(tx, AOR, {
    ...{ config, sip, store, charging, metrics: new ImMetrics(false), msrp: leg, msrpPorts: () => ({ tcp: 2855, ws: 0, tls: 0 }) },
    ...{ onEnded: () => undefined, mailboxChanged: () => undefined, log: () => undefined },
    observer: { delivered: (m) => delivered.push(m.id), ended: (s) => ended.push(s) },
  });
  /** A client BYE in the dialog; what the session answered it (status, and the body of the 200 when it has one). */
  const bye = (bodies: string[] = []): number[] => {
    const answered: number[] = [];
    const respond = (status: number, _r: string, opts: { body?: Uint8Array } = {}) => (answered.push(status), opts.body && bodies.push(Buffer.from(opts.body).toString()), {});
    session.onBye({ respond } as unknown as ServerTx);
    return answered;
  };
  const rsv = RequestIds.reserve({ callId: CALL_ID, cseq: 7, branch: 'z9hG4bKabc' });
  return { clock, random, wire, itx, session, store, calls, gates, sends, leg, byes, byeBodies, delivered, ended, bye, rsv, ok };
}

/** INVITE answered 200, ACK, MSRP bound: delivering. */
export async function delivering(h: ReturnType<typeof setup>): Promise<void> {
  await h.session.start();
  h.session.onAck();
  h.session.onMsrpBound();
  await flush();
}
