/**
 * One deferred-message retrieval (the OMA CR "6.3.2.7 Deferred Message retrieval", retrieval-flow.md), as a state
 * machine (retrieval-state.ts draws it):
 *
 *   INVITE → (1) 100 Trying → (2–3) ch2.reserve for the pending messages (stored receipts ride free) → (4) 200 OK
 *   with the SDP answer (+ AoC-S) → ACK + MSRP connection bound → (5–10) delivery-loop.ts → (11) BYE (either side,
 *   with the AoC-E, end-advice.ts) → ch2.release of what is left.
 *
 * CANCEL before the 200 → 487 + release; no ACK (64·T1) or no MSRP connection in time → BYE + release; idle
 * after the last message → BYE; a reservation about to expire is renewed for the messages left
 * (reservation-grant.ts). Every timer runs on the SIP front's clock, every tag on its random source.
 */
import { Dialog, randomToken, serializeSipMessage, Uas2xxRetransmitter, InviteServerTransaction, InviteServerState, TimerHandle } from '@imc/sip';
import type { MsrpMedia } from '@imc/msrp';
import { SessionAoc } from '../aoc/session-aoc';
import { answerInvite, MsrpPlan, readOffer } from './msrp-answer';
import { DeliveryLoop } from './delivery-loop';
import { BYE_ANSWER_WAIT_MS, endAdvice, within } from './end-advice';
import { reserveFor, ReservationGrant } from './reservation-grant';
import type { InviteKey } from './request-ids';
import { RetrievalLease } from './retrieval-lease';
import { canMove, describeEnd, EndReason, EndReasons, IllegalTransitionError, isServerCut, RetrievalState } from './retrieval-state';
import type { MsrpLeg, RetrievalDeps } from './retrieval-ports';
import type { ServerTx } from '../sip/sip-context';

export class RetrievalSession {
  private current = RetrievalState.Reserving;
  readonly callId: string;
  readonly localTag: string;
  dialog?: Dialog;
  /** Set once, when the session starts ending. */
  endReason?: EndReason;
  private finishing?: Promise<void>;
  private acked = false;
  private bound = false;
  private readonly lease: RetrievalLease;
  private readonly aoc: SessionAoc;
  private grant?: ReservationGrant;
  private leg?: MsrpLeg;
  private loop?: DeliveryLoop;
  private delivering?: Promise<void>;
  private retransmitter?: Uas2xxRetransmitter;
  private readonly timers: TimerHandle[] = [];
  private readonly startedAt = performance.now();
  private resolveEnded!: () => void;
  /** Resolves when the session has ended, whatever ended it. */
  readonly ended = new Promise<void>((r) => (this.resolveEnded = r));

  constructor(
    readonly tx: ServerTx,
    readonly aor: string,
    private readonly d: RetrievalDeps,
  ) {
    this.callId = tx.request.callId;
    this.localTag = randomToken(d.sip.random);
    this.aoc = SessionAoc.forInvite(tx.request.getAll('accept')); // advice of charge, if the INVITE's Accept asks
    // the lease outlives a reservation's validity (retrieval-lease.ts)
    const leaseMs = Math.max(30000, 2 * d.config.reservationValiditySeconds * 1000);
    this.lease = new RetrievalLease(d.store, d.sip.clock, aor, this.callId, leaseMs, d.log);
  }

  get state(): RetrievalState {
    return this.current;
  }

  get delivered(): number {
    return this.loop?.delivered ?? 0;
  }

  get inviteTx(): InviteServerTransaction {
    return this.tx.tx as InviteServerTransaction;
  }

  /** The one way the state changes; a move the machine does not allow is a bug and throws. */
  private transition(to: RetrievalState): void {
    if (!canMove(this.current, to)) throw new IllegalTransitionError(this.current, to, this.callId);
    this.current = to;
  }

  private timer(ms: number, fn: () => void): void {
    this.timers.push(this.d.sip.clock.setTimer(ms, fn));
  }

  private get answered(): boolean {
    return [RetrievalState.Answered, RetrievalState.Delivering, RetrievalState.Idle].includes(this.current);
  }

  private get inviteKey(): InviteKey {
    const req = this.tx.request;
    return { callId: this.callId, cseq: req.cseq.seq, branch: req.topVia?.branch ?? '' };
  }

  // ------------------------------------------------------------ steps 1–4

  async start(): Promise<void> {
    const req = this.tx.request;
    const c = this.d.config;
    // the MSRP offer, and the transport, path (fresh session-id) and a=setup of our answer (msrp-answer.ts)
    const offer = readOffer(req, this.d.msrpPorts(), c);
    if (!offer.ok) return this.refuse(488, 'Not Acceptable Here', offer.reason);

    // the dialog needs the From tag: refuse before anything is reserved or registered
    const dialog = Dialog.fromInvite(req, this.localTag, this.d.sip.random);
    if (!dialog) return this.refuse(400, 'Missing From Tag');
    this.dialog = dialog;

    // one retrieval per user at a time: a second one would reserve and deliver the same messages again
    if (!(await this.lease.take())) return this.refuse(486, 'Busy Here', 'another retrieval of these deferred messages is in progress');
    // ended (shutdown) while the lease was being taken: nothing else will drop it
    if (this.finishing) return this.lease.drop(true);
    this.lease.hold();

    const pending = await this.d.store.pending(this.aor);
    if (pending.length === 0) return this.refuse(404, 'No deferred messages');

    // steps 2–3: reserve for the chargeable messages, in order; the requestId is derived from the INVITE transaction
    const ctx = { aor: this.aor, callId: this.callId, key: this.inviteKey, charging: this.d.charging, clock: this.d.sip.clock, validitySeconds: c.reservationValiditySeconds };
    const grant = await reserveFor(pending, c.failureHandling, ctx, () => !!this.finishing);
    if (!grant) return; // ended while the reserve was on its way (shutdown): what it reserved was given back
    if (!(grant instanceof ReservationGrant)) return this.refuse(grant.status, grant.reason, grant.text, grant.headers);
    this.grant = grant;
    // a CANCEL may have answered the INVITE (487) while the reservation was on its way: give it back
    if (this.current === RetrievalState.Cancelled || this.inviteTx.state !== InviteServerState.Proceeding) return this.finish(EndReasons.cancelled);
    this.answer(offer.plan, offer.media);
  }

  /** Step 4: 200 OK with our MSRP path; a=setup per RFC 6135 (a WebSocket client is always the active side, RFC 7977 §5.3). */
  private answer(plan: MsrpPlan, media: MsrpMedia): void {
    const c = this.d.config;
    // a connection never carries two users' sessions (MsrpConnection): the leg's owner is the user
    const remotePath = media.path[media.path.length - 1];
    this.leg = this.d.msrp.open({ localPath: plan.localPath, remotePath, owner: this.aor, chunkSize: c.msrpChunkSize, transactionTimeoutMs: c.msrpTimeoutMs });
    // the AoC-S prices what the reservation holds for the granted messages (none for a free session)
    const reserve = this.grant?.kind === 'charged' ? this.grant.reservation : undefined;
    const at = { localTag: this.localTag, contactPort: this.d.sip.viaFor(this.tx.flow).port, transport: this.tx.flow.transport };
    const ok = answerInvite(this.tx.request, { ...at, plan, config: c, aoc: this.aoc, reserve });
    this.inviteTx.respond(ok);
    this.d.metrics.sipRequest('INVITE', 200);
    this.d.metrics.inviteLatency.observe((performance.now() - this.startedAt) / 1000);
    this.transition(RetrievalState.Answered);
    // RFC 3261 §13.3.1.4: retransmit the 2xx until the ACK; after 64·T1 without one, BYE
    this.retransmitter = new Uas2xxRetransmitter(serializeSipMessage(ok), this.tx.sink, this.d.sip.clock, this.d.sip.timers, () => {
      if (!this.acked) void this.hangUp(EndReasons.noAck);
    });
    this.retransmitter.start(false);
    this.timer(c.msrpConnectTimeoutMs, () => {
      if (!this.bound && this.current !== RetrievalState.Ended) void this.hangUp(EndReasons.noMsrp());
    });
    if (plan.setup === 'active') void this.connectOut(media);
  }

  /** A final answer before 200 OK; then the one end path gives back whatever was taken (lease, reservation). */
  private refuse(status: number, reason: string, text?: string, extra: [string, string][] = []): void {
    const warning: [string, string][] = text ? [['Warning', `399 ${this.d.config.advertisedHost} "${text}"`]] : [];
    this.tx.respond(status, reason, { toTag: this.localTag, headers: [...warning, ...extra] });
    void this.finish(EndReasons.refused(status));
  }

  /** We are the active MSRP side: open the TCP (or TLS, for msrps) connection to the client's path and bind with an empty SEND. */
  private async connectOut(media: MsrpMedia): Promise<void> {
    try {
      const status = await this.leg!.connect(media, () => this.onMsrpLost());
      if (status !== 200) return void this.hangUp(EndReasons.noMsrp(`the client refused the MSRP binding (${status})`));
      this.onMsrpBound();
    } catch (e) {
      void this.hangUp(EndReasons.noMsrp(`cannot connect to the client's MSRP path: ${(e as Error).message}`));
    }
  }

  // ------------------------------------------------------------ events

  onAck(): void {
    if (this.acked) return;
    this.acked = true;
    this.retransmitter?.ack();
    this.maybeDeliver();
  }

  onMsrpBound(): void {
    this.bound = true;
    this.maybeDeliver();
  }

  onMsrpLost(): void {
    if (this.current === RetrievalState.Ended || this.current === RetrievalState.Ending) return;
    void this.hangUp(EndReasons.msrpLost);
  }

  /** Client BYE (step 11): 200 OK (with the AoC-E once the debits settled, bounded), stop after the message in flight, release. */
  onBye(tx: ServerTx): void {
    if (!this.aoc.negotiated) tx.respond(200, 'OK');
    const settled = this.delivering?.catch(() => undefined);
    void this.finish(EndReasons.clientBye);
    if (!this.aoc.negotiated) return;
    void this.endBody(BYE_ANSWER_WAIT_MS, settled)
      .catch(() => undefined)
      .then((b) => tx.respond(200, 'OK', b ? { body: b.body, contentType: b.contentType } : {}));
  }

  /** CANCEL before the 200 (RFC 3261 §9.2): 487 to the INVITE, release what was reserved. Returns false if too late. */
  onCancel(): boolean {
    if (this.current !== RetrievalState.Reserving) return false;
    this.transition(RetrievalState.Cancelled);
    this.tx.respond(487, 'Request Terminated', { toTag: this.localTag });
    return true;
  }

  // ------------------------------------------------------------ steps 5–10

  private maybeDeliver(): void {
    if (!this.acked || !this.bound || this.delivering || this.current !== RetrievalState.Answered) return;
    this.transition(RetrievalState.Delivering);
    const d = this.d;
    this.loop = new DeliveryLoop({
      ...{ aor: this.aor, callId: this.callId, config: d.config, store: d.store, charging: d.charging, metrics: d.metrics },
      ...{ clock: d.sip.clock, leg: this.leg!, grant: this.grant!, log: d.log, observer: d.observer, aoc: this.aoc },
      ended: () => this.current !== RetrievalState.Delivering,
      serverCut: () => !!this.endReason && isServerCut(this.endReason),
      hangUp: (r) => void this.hangUp(r),
    });
    this.delivering = this.loop
      .run()
      .then(() => this.onDeliveryDone())
      .catch((e: Error) => {
        d.log(`retrieval ${this.callId}: ${e.stack ?? e.message}`);
        void this.hangUp(EndReasons.internalError);
      });
  }

  /** Every granted message settled: the mailbox changed; BYE after the idle time unless the client hangs up first. */
  private onDeliveryDone(): void {
    if (this.current !== RetrievalState.Delivering) return;
    this.transition(RetrievalState.Idle);
    this.d.mailboxChanged(this.aor);
    this.timer(this.d.config.sessionIdleMs, () => {
      if (this.current === RetrievalState.Idle) void this.hangUp(EndReasons.idle);
    });
  }

  // ------------------------------------------------------------ step 11

  /** start() failed unexpectedly (Redis down, a bug): answer or end the session and give everything back. */
  async abort(e: Error): Promise<void> {
    this.d.log(`retrieval ${this.callId} for ${this.aor}: ${e.stack ?? e.message}`);
    if (this.current === RetrievalState.Reserving && !this.finishing) return this.refuse(500, 'Server Internal Error');
    await this.hangUp(EndReasons.internalError);
  }

  /** The server ends the session: BYE (once answered), then release. A second caller waits for the first one's end. */
  async hangUp(reason: EndReason): Promise<void> {
    if (this.finishing) return this.finishing;
    if (this.current === RetrievalState.Ended) return;
    this.d.log(`retrieval ${this.callId} for ${this.aor}: BYE (${describeEnd(reason)})`);
    const dialog = this.dialog;
    const answered = this.answered;
    await this.finish(reason);
    if (!dialog || !answered) return;
    const aocE = await this.endBody(this.d.config.chargingTimeoutMs).catch(() => undefined);
    await this.d.sip.sendInDialog(dialog, this.tx.flow, 'BYE', aocE).catch(() => undefined);
  }

  /** The AoC-E (end-advice.ts), waited for at most `waitMs`; undefined without AoC. */
  private endBody(waitMs: number, settled?: Promise<unknown>) {
    return endAdvice({ aoc: this.aoc, charging: this.d.charging, aor: this.aor, clock: this.d.sip.clock, settled, waitMs });
  }

  /** Releases what is left of the reservation and frees everything; once, whoever asks (BYE, timers, shutdown). */
  finish(reason: EndReason): Promise<void> {
    if (this.current === RetrievalState.Ended && !this.finishing) return Promise.resolve();
    return (this.finishing ??= this.end(reason));
  }

  private async end(reason: EndReason): Promise<void> {
    this.transition(RetrievalState.Ending);
    this.endReason = reason;
    for (const t of this.timers) t.cancel();
    this.lease.stop();
    this.retransmitter?.cancel();
    // nothing more goes out on the MSRP connection: the client may reuse it for another user's session at once
    this.leg?.drain();
    const why = describeEnd(reason);
    // A client BYE may overtake, on the SIP connection, the MSRP 200s it sent just before on the MSRP connection:
    // give responses already on the wire a moment. Then close MSRP: SENDs still waiting end as "unanswered" — kept
    // for the next retrieval, charged as a timeout where the policy charges one — rather than waiting out the
    // transaction timeout.
    if (reason.kind === 'client-bye' && this.delivering) await within(this.d.sip.clock, this.delivering.catch(() => undefined), Math.min(1000, this.d.config.msrpTimeoutMs));
    this.leg?.close();
    try {
      if (this.delivering && reason.kind !== 'internal-error') await this.delivering.catch(() => undefined);
      this.leg?.disconnect();
      await this.grant?.releaseRest();
    } catch (e) {
      // the release could not even be queued (Redis down): the enabler's expiry sweeper returns the hold
      this.d.log(`retrieval ${this.callId}: ending (${why}): ${(e as Error).message}`);
    } finally {
      await this.lease.drop().catch(() => undefined);
      this.transition(RetrievalState.Ended);
      this.d.onEnded(this);
      this.d.observer?.ended({ aor: this.aor, callId: this.callId, delivered: this.delivered, reason });
      this.resolveEnded();
    }
  }
}
