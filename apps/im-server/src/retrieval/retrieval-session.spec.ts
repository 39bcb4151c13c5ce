/**
 * The retrieval session's state machine (retrieval-flow.md) on the fake clock, with fakes of its own ports
 * (retrieval-ports.ts): the store, the charging gateway and the MSRP leg. The Redis/NATS end-to-end suites under
 * test/e2e prove the real ones; here every timer (64·T1, MSRP connect, BYE grace, renewal margin) is driven by hand.
 */
import { canMove, EndReasons, IllegalTransitionError, RetrievalState } from './retrieval-state';
import { RequestIds } from './request-ids';
import { parseAoc, readSipBody } from '@imc/retrieval-client';
import { unwrapCpim } from '@imc/msrp';
import { AOR, CALL_ID, delivering, flush, PRICE, setup, T } from './retrieval-session.fakes';

const WITH_AOC = 'application/sdp, application/vnd.etsi.aoc+xml';

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

    it('client BYE while a SEND awaits its 200: the leg drains at once (the connection may bind another user), closes after the grace', async () => {
      const h = setup();
      await delivering(h);
      expect(h.sends.length).toBe(1);
      expect(h.leg.drained).toBe(false);
      expect(h.bye()).toEqual([200]);
      // at once, not after the grace: the client reuses its MSRP connection for its next retrieval right away
      expect(h.leg.drained).toBe(true);
      expect(h.leg.closed).toBe(false);
      h.sends[0].answer({ kind: 'delivered' }); // the 200 that was on the wire still settles the message
      await h.session.ended;
      expect(h.store.deleted).toEqual(['m1']);
      expect(h.leg.closed).toBe(true);
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

    // a shutdown is the server's doing: a SEND it left unanswered is not charged; after a client BYE it is a timeout
    it.each([
      ['shutdown', EndReasons.shutdown, ['BYE'], [RequestIds.release('R1')]],
      ['client BYE', EndReasons.clientBye, [], ['dbt:R1:m1 timeout', RequestIds.release('R1')]],
    ])('on-outcome, the session ended by %s with a SEND unanswered', async (_, reason, byes, charged) => {
      const h = setup({ policy: 'on-outcome' });
      await delivering(h);
      expect(h.sends.length).toBe(1);
      if (reason.kind === 'shutdown') await h.session.hangUp(reason);
      else {
        h.bye();
        h.clock.advance(1000);
        await h.session.ended;
      }
      expect(h.byes).toEqual(byes);
      expect(h.calls).toEqual([h.rsv, ...charged]);
      expect(h.ended[0].reason).toEqual(reason);
    });
  });

  describe('advice of charge (TS 24.647)', () => {
    it('without AoC in Accept: the 200 OK is SDP only and the BYE has no body', async () => {
      const h = setup();
      h.leg.autoDeliver = true;
      await delivering(h);
      expect(h.ok().get('content-type')).toBe('application/sdp');
      h.clock.advance(90000);
      await h.session.ended;
      await flush();
      expect(h.byes).toEqual(['BYE']);
      expect(h.byeBodies).toEqual([undefined]);
      expect(h.calls).not.toContain('balance');
    });

    it('the 200 OK is multipart with the AoC-S of the granted messages; the server BYE carries the AoC-E', async () => {
      const h = setup({ accept: WITH_AOC });
      h.leg.autoDeliver = true;
      await delivering(h);
      const ok = h.ok();
      expect(ok.get('content-type')).toMatch(/^multipart\/mixed;boundary=/);
      expect(ok.get('content-disposition')).toBe('session');
      const body = readSipBody(ok.bodyText(), ok.get('content-type'));
      expect(body.sdp).toMatch(/^v=0/);
      expect(body.aoc).toMatchObject({ kind: 'aoc-s', amount: { currency: 'EUR', units: 3 * PRICE, exponent: -2 } });
      h.clock.advance(90000); // idle: the server hangs up
      await h.session.ended;
      await flush();
      expect(h.byes).toEqual(['BYE']);
      expect(h.byeBodies[0]?.contentType).toBe('application/vnd.etsi.aoc+xml');
      // the cost is the sum of the session's debits, the balance read after them
      expect(parseAoc(h.byeBodies[0]!.body)).toMatchObject({ kind: 'aoc-e', amount: { units: 3 * PRICE }, balanceAfter: { units: 100 - 3 * PRICE } });
      expect(h.calls.at(-1)).toBe('balance');
    });

    it('a client BYE is answered 200 with the AoC-E once the debits in flight settled', async () => {
      const h = setup({ accept: WITH_AOC, window: 2 });
      await delivering(h);
      h.sends[0].answer({ kind: 'delivered' });
      await flush();
      const bodies: string[] = [];
      const answered = h.bye(bodies);
      expect(answered).toEqual([]); // held until the SENDs in flight settled (bounded)
      h.sends[1].answer({ kind: 'delivered' });
      await flush();
      expect(answered).toEqual([]);
      h.clock.advance(1000); // the grace for MSRP 200s on the wire: m3's SEND ends unanswered, not charged
      await h.session.ended;
      await flush();
      expect(answered).toEqual([200]);
      expect(parseAoc(bodies[0])).toMatchObject({ kind: 'aoc-e', amount: { units: 2 * PRICE }, balanceAfter: { units: 100 - 2 * PRICE } });
      expect(h.byes).toEqual([]);
    });

    it('a debit that never settles in time: the 200 to the BYE still goes out, the cost not-available', async () => {
      const h = setup({ accept: WITH_AOC, holdDebit: true });
      await delivering(h);
      h.sends[0].answer({ kind: 'delivered' }); // its debit hangs
      await flush();
      const bodies: string[] = [];
      const answered = h.bye(bodies);
      h.clock.advance(1500);
      await flush();
      expect(answered).toEqual([200]);
      expect(bodies[0]).toContain('<not-available/>');
      h.gates.debit.resolve();
      await h.session.ended;
    });
  });

  describe('stored receipts (IMDN)', () => {
    it('left out of the reserve, delivered with the messages, never debited, deleted after their 200', async () => {
      const h = setup({ messages: 3, receipts: [1], policy: 'on-outcome' });
      h.leg.autoDeliver = true;
      await delivering(h);
      expect(h.calls).toEqual([h.rsv, 'dbt:R1:m1 delivered', 'dbt:R1:m3 delivered']);
      expect(h.store.deleted).toEqual(['m1', 'm2', 'm3']);
      expect(h.delivered).toEqual(['m1', 'm2', 'm3']);
      // the receipt's CPIM content is its IMDN, marked as a notification
      const inner = new TextDecoder().decode(unwrapCpim(new TextEncoder().encode(h.sends[1].body))!.inner);
      expect(inner).toMatch(/^Content-Type: message\/imdn\+xml\r\nContent-Disposition: notification\r\n\r\n/);
    });

    it.each(['before-send', 'on-delivery'] as const)('%s: a mailbox of receipts only is delivered free, with no CH-2 call at all', async (policy) => {
      const h = setup({ messages: 2, receipts: [0, 1], policy, accept: WITH_AOC });
      h.leg.autoDeliver = true;
      await delivering(h);
      expect(h.wire).toEqual(['SIP/2.0 200 OK']);
      expect(h.ok().get('content-type')).toBe('application/sdp'); // nothing priced: no AoC-S
      expect(h.store.deleted).toEqual(['m1', 'm2']);
      h.clock.advance(90000);
      await h.session.ended;
      expect(h.calls.filter((c) => c !== 'balance')).toEqual([]);
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

    it.each(Object.values(RetrievalState))('Ended is final; Ending is left only for Ended (→ %s)', (to) => {
      expect(canMove(RetrievalState.Ended, to)).toBe(false);
      expect(canMove(RetrievalState.Ending, to)).toBe(to === RetrievalState.Ended);
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
