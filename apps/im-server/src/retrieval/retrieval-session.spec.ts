/**
 * The retrieval session's state machine (retrieval-flow.md) on the fake clock, with fakes of its own ports
 * (retrieval-ports.ts): the store, the charging gateway and the MSRP leg. The Redis/NATS end-to-end suites under
 * test/e2e prove the real ones; here every timer (64·T1, MSRP connect, BYE grace, renewal margin) is driven by hand.
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
import { canMove, EndReasons, IllegalTransitionError, RetrievalState } from './retrieval-state';
import type { RetrievalCharging, RetrievalConfig, RetrievalSummary } from './retrieval-ports';
import { RequestIds } from './request-ids';

const T = { T1: 500, T2: 4000, T4: 5000 };
const AOR = 'sip:bob@example.com';
const CALL_ID = 'c1';

function deferred<V>() {
  let resolve!: (v: V) => void;
  const promise = new Promise<V>((r) => (resolve = r));
  return { promise, resolve };
}
/** Lets the fakes' already-settled promises run their continuations (no time passes). */
const flush = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

function invite(): SipRequest {
  const sdp = 'v=0\r\nc=IN IP4 127.0.0.1\r\nm=message 9 TCP/MSRP *\r\na=path:msrp://127.0.0.1:9/c;tcp\r\na=accept-types:message/cpim\r\na=setup:active\r\n';
  const raw =
    `INVITE sip:deferred@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc\r\nMax-Forwards: 70\r\n` +
    `From: <${AOR}>;tag=ft\r\nTo: <sip:deferred@example.com>\r\nCall-ID: ${CALL_ID}\r\nCSeq: 7 INVITE\r\nContact: <sip:bob@127.0.0.1:5070>\r\n` +
    `Content-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`;
  const r = parseSipMessage(new TextEncoder().encode(raw));
  if (!r.ok) throw new Error(r.reason);
  return r.message as SipRequest;
}

function setup(o: { policy?: RetrievalConfig['chargingPolicy']; window?: number; validity?: number; messages?: number; holdReserve?: boolean; holdDebit?: boolean } = {}) {
  const clock = new FakeClock();
  const random = new SeededRandom(42);
  const wire: string[] = []; // status lines the INVITE transaction wrote (first copies and retransmissions)
  const sink = { reliable: false, send: (b: Uint8Array) => wire.push(new TextDecoder().decode(b).split('\r\n')[0]) };
  const req = invite();
  const itx = new InviteServerTransaction(req, sink, clock, T);
  const tx: ServerTx = {
    request: req,
    flow: { transport: 'UDP' } as ServerTx['flow'],
    sink,
    tx: itx,
    respond: (status, reason, opts = {}) => {
      const res = createResponse(req, status, reason, { random, ...opts });
      itx.respond(res);
      return res;
    },
  };
  const byes: string[] = [];
  const sip: SipFrontPort = {
    clock,
    timers: T,
    random,
    viaFor: () => ({ transport: 'UDP', host: '127.0.0.1', port: 5060 }),
    sinkFor: () => sink,
    send: async () => 200,
    sendInDialog: async (_d, _f, method) => (byes.push(method), 200),
  };
  const msgs: StoredMessageMeta[] = Array.from({ length: o.messages ?? 3 }, (_, i) => ({
    ...{ id: `m${i + 1}`, from: 'sip:alice@example.com', to: AOR, contentType: 'text/plain', octets: 10 },
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
  const validity = o.validity ?? 300;
  const charging: RetrievalCharging = {
    async reserve(_s, requestId, _sid, items) {
      calls.push(requestId);
      if (o.holdReserve) await gates.reserve.promise;
      const res: ReserveResponse = {
        ...{ requestId, result: 'SUCCESS', resultCode: 2001, reservationId: `R${++reservations}` },
        ...{ grantedItems: items.map((i) => i.id), expiresAt: new Date(clock.now() + validity * 1000).toISOString() },
      };
      return { kind: 'answer', res };
    },
    async debit(_s, _sid, rid, item, outcome) {
      calls.push(`${RequestIds.debit(rid, item)} ${outcome}`);
      if (o.holdDebit) await gates.debit.promise;
      return { kind: 'answer', res: { requestId: RequestIds.debit(rid, item), result: 'SUCCESS', resultCode: 2001, cdrId: `cdr-${item}` } };
    },
    release: async (_s, _sid, rid) => (calls.push(RequestIds.release(rid)), { kind: 'queued' }),
    refund: async (_s, _sid, cdr) => (calls.push(RequestIds.refund(cdr)), { kind: 'queued' }),
    recordDeferredCharge: async (_s, sid, item) => void calls.push(RequestIds.deferredCharge(sid, item)),
  };
  // the MSRP leg: each SEND waits for the spec's outcome (or is answered 200 at once with `autoDeliver`)
  const sends: { body: string; answer: (o: SendOutcome) => void }[] = [];
  const leg = {
    autoDeliver: false,
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
      // like MsrpSession.close: a SEND still waiting for its response ends unanswered
      close: () => ((leg.closed = true), sends.forEach((s) => s.answer({ kind: 'unanswered' }))),
      disconnect: () => undefined,
    }),
  };
  const delivered: string[] = [];
  const ended: RetrievalSummary[] = [];
  const config: RetrievalConfig = {
    ...{ advertisedHost: '127.0.0.1', deferredUser: 'deferred', chargingPolicy: o.policy ?? 'on-delivery', failureHandling: 'terminate' },
    ...{ reservationValiditySeconds: validity, msrpTimeoutMs: 30000, msrpChunkSize: 2048, msrpSendWindow: o.window ?? 1 },
    ...{ msrpConnectTimeoutMs: 60000, sessionIdleMs: 90000, successReport: false, msrpSetup: 'active' },
  };
  const session = new RetrievalSession(tx, AOR, {
    ...{ config, sip, store, charging, metrics: new ImMetrics(false), msrp: leg, msrpPorts: () => ({ tcp: 2855, ws: 0, tls: 0 }) },
    ...{ onEnded: () => undefined, mailboxChanged: () => undefined, log: () => undefined },
    observer: { delivered: (m) => delivered.push(m.id), ended: (s) => ended.push(s) },
  });
  const bye = () => {
    const answered: number[] = [];
    session.onBye({ respond: (status: number) => (answered.push(status), {}) } as unknown as ServerTx);
    return answered;
  };
  const rsv = RequestIds.reserve({ callId: CALL_ID, cseq: 7, branch: 'z9hG4bKabc' });
  return { clock, random, wire, itx, session, store, calls, gates, sends, leg, byes, delivered, ended, bye, rsv };
}

/** INVITE answered 200, ACK, MSRP bound: delivering. */
async function delivering(h: ReturnType<typeof setup>) {
  await h.session.start();
  h.session.onAck();
  h.session.onMsrpBound();
  await flush();
}

describe('RetrievalSession', () => {
  it('answers the INVITE with 200 OK and an SDP answer, its tag drawn from the SIP front random source', async () => {
    const h = setup();
    const before = h.random.drawn;
    await h.session.start();
    expect(before).toBeGreaterThan(0); // the local tag, drawn in the constructor
    expect(h.session.state).toBe(RetrievalState.Answered);
    expect(h.wire).toEqual(['SIP/2.0 200 OK']);
    expect(h.calls).toEqual([h.rsv]);
  });

  describe('Reserving', () => {
    it('CANCEL before the 200: 487, no 200, what the reserve took is released', async () => {
      const h = setup({ holdReserve: true });
      const started = h.session.start();
      await flush();
      expect(h.session.onCancel()).toBe(true);
      expect(h.session.state).toBe(RetrievalState.Cancelled);
      h.gates.reserve.resolve();
      await started;
      await h.session.ended;
      expect(h.wire).toEqual(['SIP/2.0 487 Request Terminated']);
      expect(h.calls).toEqual([h.rsv, RequestIds.release('R1')]);
      expect(h.byes).toEqual([]);
      expect(h.store.locked).toBe(false);
      expect(h.ended).toEqual([{ aor: AOR, callId: CALL_ID, delivered: 0, reason: EndReasons.cancelled }]);
    });

    it('CANCEL after the 200 is too late', async () => {
      const h = setup();
      await h.session.start();
      expect(h.session.onCancel()).toBe(false);
      expect(h.session.state).toBe(RetrievalState.Answered);
    });
  });

  describe('Answered', () => {
    it('no ACK: the 2xx is retransmitted (T1 doubling to T2) for 64·T1, then BYE and release', async () => {
      const h = setup();
      await h.session.start();
      h.session.onMsrpBound();
      h.clock.advance(64 * T.T1 - 1);
      await flush();
      // first copy + retransmissions at 0.5, 1.5, 3.5, 7.5, 11.5 … 31.5 s
      expect(h.wire.length).toBe(11);
      expect(h.session.state).toBe(RetrievalState.Answered);
      h.clock.advance(1);
      await h.session.ended;
      await flush();
      expect(h.byes).toEqual(['BYE']);
      expect(h.calls).toEqual([h.rsv, RequestIds.release('R1')]);
      expect(h.ended[0].reason).toEqual(EndReasons.noAck);
      expect(h.sends).toEqual([]);
    });

    it('no MSRP connection in time: BYE and release when MSRP_CONNECT_TIMEOUT passes', async () => {
      const h = setup();
      await h.session.start();
      h.session.onAck();
      h.clock.advance(59999);
      await flush();
      expect(h.byes).toEqual([]);
      h.clock.advance(1);
      await h.session.ended;
      await flush();
      expect(h.byes).toEqual(['BYE']);
      expect(h.calls).toEqual([h.rsv, RequestIds.release('R1')]);
      expect(h.ended[0].reason).toEqual(EndReasons.noMsrp());
      expect(h.leg.closed).toBe(true);
    });
  });

  describe('Delivering', () => {
    it('delivers in order, debits each 200 on its reservation, deletes it, tells the observer, then idles and hangs up', async () => {
      const h = setup();
      h.leg.autoDeliver = true;
      await delivering(h);
      expect(h.session.state).toBe(RetrievalState.Idle);
      expect(h.delivered).toEqual(['m1', 'm2', 'm3']);
      expect(h.store.deleted).toEqual(['m1', 'm2', 'm3']);
      expect(h.calls).toEqual([h.rsv, 'dbt:R1:m1 delivered', 'dbt:R1:m2 delivered', 'dbt:R1:m3 delivered']);
      h.clock.advance(90000);
      await h.session.ended;
      expect(h.ended[0]).toMatchObject({ delivered: 3, reason: EndReasons.idle });
    });

    it('renews a reservation about to expire for the messages left: release, then a renewal reserve', async () => {
      const h = setup({ validity: 30 }); // renewal margin: min(10 s, validity / 5) = 6 s
      await delivering(h);
      expect(h.sends.length).toBe(1);
      h.clock.advance(24001); // the reservation (expires at 30 s) now has less than 6 s left
      h.sends[0].answer({ kind: 'delivered' });
      await flush();
      expect(h.calls).toEqual([h.rsv, 'dbt:R1:m1 delivered', RequestIds.release('R1'), RequestIds.renewal({ callId: CALL_ID, cseq: 7, branch: 'z9hG4bKabc' }, 1)]);
      expect(h.calls[3]).toBe(`${h.rsv}:renew1`);
      h.leg.autoDeliver = true;
      h.sends[1].answer({ kind: 'delivered' });
      await flush();
      expect(h.calls.slice(4)).toEqual(['dbt:R2:m2 delivered', 'dbt:R2:m3 delivered']);
      expect(h.session.state).toBe(RetrievalState.Idle);
    });

    it('client BYE during delivery: 200, the SEND left unanswered after the grace is not charged (on-delivery) nor deleted', async () => {
      const h = setup({ window: 2 });
      await delivering(h);
      expect(h.sends.length).toBe(2);
      h.sends[0].answer({ kind: 'delivered' });
      await flush();
      expect(h.bye()).toEqual([200]);
      expect(h.session.state).toBe(RetrievalState.Ending);
      h.clock.advance(999);
      await flush();
      expect(h.leg.closed).toBe(false); // MSRP 200s already on the wire get 1 s to arrive
      h.clock.advance(1);
      await h.session.ended;
      expect(h.calls).toEqual([h.rsv, 'dbt:R1:m1 delivered', RequestIds.release('R1')]);
      expect(h.store.deleted).toEqual(['m1']);
      expect(h.sends.map((x) => x.body.includes('body of m3'))).toEqual([false, false, true]); // m2 and m3 were in flight
      expect(h.byes).toEqual([]);
      expect(h.ended[0]).toMatchObject({ delivered: 1, reason: EndReasons.clientBye });
    });

    it('before-send: the session ends while the debit is in flight — the message is not sent and its charge is refunded', async () => {
      const h = setup({ policy: 'before-send', holdDebit: true });
      await delivering(h);
      expect(h.calls).toEqual([h.rsv, 'dbt:R1:m1 delivered']);
      expect(h.bye()).toEqual([200]);
      h.gates.debit.resolve();
      await h.session.ended;
      expect(h.calls).toEqual([h.rsv, 'dbt:R1:m1 delivered', RequestIds.refund('cdr-m1'), RequestIds.release('R1')]);
      expect(h.sends).toEqual([]);
      expect(h.store.deleted).toEqual([]);
    });

    it('shutdown cuts the session: a SEND left unanswered is not the user’s doing, not charged even under on-outcome', async () => {
      const h = setup({ policy: 'on-outcome' });
      await delivering(h);
      expect(h.sends.length).toBe(1);
      await h.session.hangUp(EndReasons.shutdown);
      expect(h.byes).toEqual(['BYE']);
      expect(h.calls).toEqual([h.rsv, RequestIds.release('R1')]);
      expect(h.ended[0].reason).toEqual(EndReasons.shutdown);
    });

    it('a client BYE leaves the same unanswered SEND charged as a timeout under on-outcome (the contrast)', async () => {
      const h = setup({ policy: 'on-outcome' });
      await delivering(h);
      h.bye();
      h.clock.advance(1000);
      await h.session.ended;
      expect(h.calls).toEqual([h.rsv, 'dbt:R1:m1 timeout', RequestIds.release('R1')]);
    });
  });

  describe('transitions', () => {
    it('refuses an illegal move and leaves the state as it was', async () => {
      const h = setup();
      await h.session.start();
      const move = (to: RetrievalState) => (h.session as unknown as { transition(t: RetrievalState): void }).transition(to);
      expect(() => move(RetrievalState.Idle)).toThrow(IllegalTransitionError);
      expect(() => move(RetrievalState.Ended)).toThrow('invalid state transition Answered → Ended');
      expect(h.session.state).toBe(RetrievalState.Answered);
    });

    it('Ended is final; Ending is left only for Ended', () => {
      for (const to of Object.values(RetrievalState)) {
        expect(canMove(RetrievalState.Ended, to)).toBe(false);
        expect(canMove(RetrievalState.Ending, to)).toBe(to === RetrievalState.Ended);
      }
    });

    it('events after the end change nothing', async () => {
      const h = setup();
      await h.session.start();
      await h.session.hangUp(EndReasons.shutdown);
      h.session.onAck();
      h.session.onMsrpBound();
      h.session.onMsrpLost();
      expect(h.session.onCancel()).toBe(false);
      await flush();
      expect(h.session.state).toBe(RetrievalState.Ended);
      expect(h.byes).toEqual(['BYE']);
      h.clock.advance(64 * T.T1); // the INVITE transaction's Timer L: the session itself left no timer behind
      expect(h.clock.pending()).toBe(0);
    });
  });
});
