/**
 * One deferred-message retrieval (the OMA CR "6.3.2.7 Deferred Message retrieval", retrieval-flow.md):
 *
 *   INVITE → (1) 100 Trying → (2–3) ch2.reserve for the pending messages → (4) 200 OK with the SDP answer
 *   → ACK + MSRP connection bound → (5) one MSRP SEND per granted message, wrapped in message/cpim
 *   → (8–9) ch2.debit per outcome, as CHARGING_POLICY says → (10) delete after MSRP 200 OK
 *   → (11) BYE (either side) → ch2.release of what is left.
 *
 * CANCEL before the 200 → 487 + release; no ACK (64·T1) or no MSRP connection in time → BYE + release; idle
 * after the last message → BYE; a reservation about to expire is renewed for the messages left.
 */
import { createHash } from 'node:crypto';
import { Ch2Item, ReserveResponse } from '@imc/ch2';
import { Dialog, randomToken, serializeSipMessage, createResponse, Uas2xxRetransmitter, InviteServerTransaction, InviteServerState } from '@imc/sip';
import { accepts, buildMsrpAnswer, MsrpConnection, MsrpMedia, MsrpSession, mimePart, parseMsrpOffer, SendOutcome, wrapCpim } from '@imc/msrp';
import { nodeMsrpClock, nodeRandom } from '@imc/msrp-node';
import { connectToClient, MsrpListeners, planMsrpAnswer } from './msrp-endpoint';
import type { ImServerConfig } from '../config';
import type { DeferredStore, StoredMessageMeta } from '../store/deferred-store';
import type { ChargingGateway } from '../charging/charging-gateway';
import type { ImMetrics } from '../observability/im-metrics';
import type { ServerTx } from '../sip/sip-context';
import type { SipFrontPort } from '../sip/sip-port';

export enum RetrievalState {
  Reserving = 'Reserving',
  Answered = 'Answered',
  Delivering = 'Delivering',
  Idle = 'Idle',
  Ending = 'Ending',
  Ended = 'Ended',
}

export interface RetrievalDeps {
  config: ImServerConfig;
  sip: SipFrontPort;
  store: DeferredStore;
  charging: ChargingGateway;
  metrics: ImMetrics;
  msrpPorts: () => MsrpListeners;
  register: (s: MsrpSession) => void;
  unregister: (s: MsrpSession) => void;
  onEnded: (s: RetrievalSession) => void;
  /** The user's mailbox changed (message-summary NOTIFY to their subscriptions). */
  mailboxChanged: (aor: string) => void;
  log: (m: string) => void;
}

/** Attempts at deleting a delivered message before the session gives up (~7 s of backoff in all). */
const DELETE_ATTEMPTS = 8;

/** Result → SIP mapping of retrieval-flow.md "Error mapping". */
const REFUSAL: Record<string, [number, string]> = {
  CREDIT_LIMIT_REACHED: [403, 'not enough credit to retrieve deferred messages'],
  END_USER_SERVICE_DENIED: [403, 'service denied for this account'],
  USER_UNKNOWN: [403, 'no charging account'],
  RATING_FAILED: [500, 'rating failed'],
  INVALID_REQUEST: [500, 'charging request refused'],
  UNKNOWN_RESERVATION: [500, 'charging session unknown'],
};

export class RetrievalSession {
  state = RetrievalState.Reserving;
  readonly callId: string;
  readonly localTag = randomToken(nodeRandom);
  dialog?: Dialog;
  private cancelled = false;
  private finishing?: Promise<void>;
  private byeReceived = false;
  private acked = false;
  private bound = false;
  private reservation?: ReserveResponse;
  private free = false;
  private unreserved = false; // CHARGING_FAILURE_HANDLING=continue with the enabler away
  private granted: StoredMessageMeta[] = [];
  private pending: StoredMessageMeta[] = [];
  private msrp?: MsrpSession;
  private conn?: MsrpConnection;
  private retransmitter?: Uas2xxRetransmitter;
  private timers: { cancel(): void }[] = [];
  private delivering?: Promise<void>;
  private renewals = 0;
  private readonly attempted = new Set<string>();
  private stopDelivering = false;
  /** The server itself cut the session short (shutdown, internal error): nothing left unanswered is the user's doing. */
  private serverCut = false;
  /** This session holds the user's retrieval lease (one retrieval per user at a time). */
  private locked = false;
  private readonly startedAt = performance.now();
  delivered = 0;

  constructor(
    readonly tx: ServerTx,
    readonly aor: string,
    private readonly d: RetrievalDeps,
  ) {
    this.callId = tx.request.callId;
  }

  get inviteTx(): InviteServerTransaction {
    return this.tx.tx as InviteServerTransaction;
  }

  private timer(ms: number, fn: () => void): void {
    const t = setTimeout(fn, ms);
    t.unref();
    this.timers.push({ cancel: () => clearTimeout(t) });
  }

  private warn(status: number, reason: string, text: string, extra: [string, string][] = []): void {
    this.tx.respond(status, reason, { toTag: this.localTag, headers: [['Warning', `399 ${this.d.config.advertisedHost} "${text}"`], ...extra] });
  }

  // ------------------------------------------------------------ steps 1–4

  async start(): Promise<void> {
    const req = this.tx.request;
    const c = this.d.config;
    if (req.contentType !== 'application/sdp') return this.refuse(488, 'Not Acceptable Here', 'an SDP offer with an MSRP m=message line is required');
    const offer = parseMsrpOffer(req.bodyText());
    if (!offer.ok) return this.refuse(488, 'Not Acceptable Here', offer.reason);
    if (!accepts(offer.media.acceptTypes, 'message/cpim')) return this.refuse(488, 'Not Acceptable Here', 'a=accept-types must allow message/cpim');
    // transport, path (fresh session-id) and a=setup of our answer (msrp-endpoint.ts)
    const plan = planMsrpAnswer(offer.media, this.d.msrpPorts(), c);
    if (!plan.ok) return this.refuse(488, 'Not Acceptable Here', plan.reason);

    // the dialog needs the From tag: refuse before anything is reserved or registered
    const dialog = Dialog.fromInvite(req, this.localTag, nodeRandom);
    if (!dialog) return this.refuse(400, 'Missing From Tag');
    this.dialog = dialog;

    // one retrieval per user at a time: a second one would reserve and deliver the same messages again
    if (!(await this.d.store.lockRetrieval(this.aor, this.callId, this.leaseMs))) {
      return this.refuse(486, 'Busy Here', 'another retrieval of these deferred messages is in progress');
    }
    if (this.finishing) {
      // ended (shutdown) while the lease was being taken: nothing else will drop it
      await this.d.store.unlockRetrieval(this.aor, this.callId);
      return;
    }
    this.locked = true;
    const refresh = setInterval(() => {
      void this.d.store
        .refreshRetrievalLock(this.aor, this.callId, this.leaseMs)
        .then((held) => held || this.d.log(`retrieval ${this.callId} for ${this.aor}: the retrieval lease was lost (Redis failover?)`))
        .catch(() => undefined);
    }, this.leaseMs / 3);
    refresh.unref();
    this.timers.push({ cancel: () => clearInterval(refresh) });

    this.pending = await this.d.store.pending(this.aor);
    if (this.pending.length === 0) return this.refuse(404, 'No deferred messages');

    // steps 2–3: reserve for the pending messages, in order; the requestId is derived from the INVITE transaction
    const items: Ch2Item[] = this.pending.map((m) => ({ id: m.id, octets: m.octets }));
    const r = await this.d.charging.reserve(this.aor, `rsv:${this.reserveKey}`, this.callId, items);
    if (this.finishing) {
      // ended while the reserve was on its way (shutdown): give back what was just reserved
      if (r.kind === 'answer' && r.res.result === 'SUCCESS' && r.res.reservationId) await this.d.charging.release(this.aor, this.callId, r.res.reservationId);
      return;
    }
    if (r.kind === 'unavailable' || r.res.result === 'TOO_BUSY') {
      // ch2-contract.md "Timers and failure handling": CCFH
      if (c.failureHandling !== 'continue') return this.refuse(503, 'Service Unavailable', 'charging is unavailable; try again later', [['Retry-After', '30']]);
      this.unreserved = true;
      this.granted = this.pending;
    } else if (r.res.result === 'SUCCESS') {
      this.reservation = r.res;
      const ids = new Set(r.res.grantedItems ?? []);
      this.granted = this.pending.filter((m) => ids.has(m.id));
    } else if (r.res.result === 'CREDIT_CONTROL_NOT_APPLICABLE') {
      this.free = true; // RFC 4006 §5.2: deliver, no further credit control
      this.granted = this.pending;
    } else {
      const [status, text] = REFUSAL[r.res.result] ?? [500, r.res.result];
      return this.refuse(status, status === 403 ? 'Forbidden' : 'Server Internal Error', `${text}${r.res.message ? `: ${r.res.message}` : ''}`);
    }
    // a CANCEL may have answered the INVITE (487) while the reservation was on its way: give it back
    if (this.cancelled || this.inviteTx.state !== InviteServerState.Proceeding) return this.finish('cancelled before answer');

    // step 4: 200 OK with our MSRP path; a=setup per RFC 6135 (a WebSocket client is always the active side, RFC 7977 §5.3)
    const { setup, localPath } = plan;
    this.msrp = new MsrpSession({
      localPath,
      remotePath: offer.media.path[offer.media.path.length - 1],
      clock: nodeMsrpClock,
      random: nodeRandom,
      owner: this.aor, // a connection never carries two users' sessions (MsrpConnection)
      chunkSize: c.msrpChunkSize,
      transactionTimeoutMs: c.msrpTimeoutMs,
      sendOnly: true,
    });
    this.d.register(this.msrp);
    const sdp = buildMsrpAnswer({
      address: c.advertisedHost,
      port: plan.port,
      proto: plan.proto,
      path: localPath,
      setup,
      fingerprint: plan.fingerprint,
      acceptTypes: ['message/cpim', 'message/imdn+xml'],
      acceptWrappedTypes: ['*'],
      direction: 'sendonly',
    });
    const contactPort = this.d.sip.viaFor(this.tx.flow).port;
    const ok = createResponse(req, 200, 'OK', {
      toTag: this.localTag,
      headers: [
        ['Contact', `<sip:${c.deferredUser}@${c.advertisedHost}:${contactPort};transport=${this.tx.flow.transport.toLowerCase()}>`],
        ['Allow', 'INVITE, ACK, BYE, CANCEL, OPTIONS'],
      ],
      body: new TextEncoder().encode(sdp),
      contentType: 'application/sdp',
    });
    this.inviteTx.respond(ok);
    this.d.metrics.sipRequest('INVITE', 200);
    this.d.metrics.inviteLatency.observe((performance.now() - this.startedAt) / 1000);
    this.state = RetrievalState.Answered;
    // §13.3.1.4: retransmit the 2xx until the ACK; after 64·T1 without one, BYE
    this.retransmitter = new Uas2xxRetransmitter(serializeSipMessage(ok), this.tx.sink, this.d.sip.clock, this.d.sip.timers, () => {
      if (!this.acked) void this.hangUp('no ACK for the 200 OK');
    });
    this.retransmitter.start(false);
    this.timer(c.msrpConnectTimeoutMs, () => {
      if (!this.bound && this.state !== RetrievalState.Ended) void this.hangUp('the MSRP connection was never established');
    });
    if (setup === 'active') void this.connectOut(offer.media);
  }

  /** A final answer before 200 OK; then the one end path gives back whatever was taken (lease, reservation). */
  private refuse(status: number, reason: string, text?: string, extra: [string, string][] = []): void {
    if (text) this.warn(status, reason, text, extra);
    else this.tx.respond(status, reason, { toTag: this.localTag, headers: extra });
    void this.finish(`refused ${status}`);
  }

  /**
   * The reserve requestIds derive from the INVITE transaction — Call-ID, CSeq and the top Via branch, hashed to fit
   * CH-2's 128 characters — so the request is replay-safe, yet a client that reuses a Call-ID later never replays an
   * old, released reservation.
   */
  private get reserveKey(): string {
    const req = this.tx.request;
    return createHash('sha1').update(`${this.callId}\n${req.cseq.seq}\n${req.topVia?.branch ?? ''}`).digest('hex');
  }

  /** The retrieval lease outlives a reservation's validity; it is refreshed every third of it while the session lives. */
  private get leaseMs(): number {
    return Math.max(30000, 2 * this.d.config.reservationValiditySeconds * 1000);
  }

  /** We are the active MSRP side: open the TCP (or TLS, for msrps) connection to the client's path and bind with an empty SEND. */
  private async connectOut(media: MsrpMedia): Promise<void> {
    if (!this.msrp) return;
    try {
      const session = this.msrp;
      this.conn = await connectToClient(media, { onLost: () => this.onMsrpLost() });
      this.conn.adopt(session);
      const status = await session.sendBind();
      if (status !== 200) return void this.hangUp(`the client refused the MSRP binding (${status})`);
      this.onMsrpBound();
    } catch (e) {
      void this.hangUp(`cannot connect to the client's MSRP path: ${(e as Error).message}`);
    }
  }

  get msrpSession(): MsrpSession | undefined {
    return this.msrp;
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
    if (this.state === RetrievalState.Ended || this.state === RetrievalState.Ending) return;
    void this.hangUp('the MSRP connection was lost');
  }

  /** Client BYE (step 11): 200 OK, stop after the message in flight, release. */
  onBye(tx: ServerTx): void {
    tx.respond(200, 'OK');
    this.byeReceived = true;
    void this.finish('client BYE');
  }

  /** CANCEL before the 200 (RFC 3261 §9.2): 487 to the INVITE, release what was reserved. Returns false if too late. */
  onCancel(): boolean {
    if (this.state !== RetrievalState.Reserving) return false;
    this.cancelled = true;
    this.tx.respond(487, 'Request Terminated', { toTag: this.localTag });
    return true;
  }

  // ------------------------------------------------------------ steps 5–10

  private maybeDeliver(): void {
    if (!this.acked || !this.bound || this.delivering || this.state !== RetrievalState.Answered) return;
    this.state = RetrievalState.Delivering;
    this.delivering = this.deliverAll().catch((e: Error) => {
      this.d.log(`retrieval ${this.callId}: ${e.stack ?? e.message}`);
      void this.hangUp('internal error');
    });
  }

  /**
   * Sends the granted messages in order. SENDs are written in order on the connection while up to `window` of them
   * await their MSRP response (RFC 4975 lets transactions overlap); each outcome is settled — debit per policy,
   * delete after 200 — as it arrives. `before-send` debits each message before writing it, one at a time.
   */
  private async deliverAll(): Promise<void> {
    const c = this.d.config;
    const window = c.chargingPolicy === 'before-send' ? 1 : c.msrpSendWindow;
    const readAhead = Math.min(window, 32);
    const inFlight: Promise<void>[] = [];
    const bodies = new Map<string, Promise<Buffer | null>>();
    const prefetch = (from: number) => {
      for (let i = from; i < Math.min(from + readAhead, this.granted.length); i++) {
        const m = this.granted[i];
        if (bodies.has(m.id)) continue;
        const b = this.d.store.body(this.aor, m.id);
        b.catch(() => undefined); // a failed read is seen when this body is awaited, never as an unhandled rejection
        bodies.set(m.id, b);
      }
    };
    const stopping = () => this.byeReceived || this.stopDelivering || this.state !== RetrievalState.Delivering;
    const list = this.granted;
    // only renew() changes the grant while this loop runs; after a renewal, messages it no longer covers are skipped
    let stillGranted: Set<StoredMessageMeta> | undefined;
    for (let i = 0; i < list.length; i++) {
      const m = list[i];
      if (stopping()) break;
      if (stillGranted && !stillGranted.has(m)) continue;
      if (this.renewalDue()) {
        // settle every message sent on the old reservation before it is released
        await Promise.all(inFlight.splice(0));
        if (stopping()) break;
        await this.renew();
        if (stopping()) break;
        stillGranted = new Set(this.granted);
        if (!stillGranted.has(m)) continue;
      }
      this.attempted.add(m.id);
      prefetch(i);
      const body = await bodies.get(m.id)!;
      bodies.delete(m.id);
      if (!body) continue; // expired meanwhile: never charged, its hold is released at the end
      if (stopping()) break; // a BYE came while the body was read: nothing more is written
      const cpim = wrapCpim(
        { from: m.from, to: m.to, dateTime: m.receivedAt, imdnMessageId: m.imdnMessageId ?? m.id, dispositionNotification: m.disposition },
        mimePart(m.contentType, body),
      );
      let beforeSendCdr: string | undefined;
      if (this.charged && c.chargingPolicy === 'before-send') {
        // the CR editor's note: debit before the SEND; a failed debit means the message is not sent
        const d = await this.d.charging.debit(this.aor, this.callId, this.reservation!.reservationId!, m.id, 'delivered', m.octets);
        if (d.kind !== 'answer' || d.res.result !== 'SUCCESS') {
          void this.hangUp('the debit before sending was not confirmed');
          break;
        }
        beforeSendCdr = d.res.cdrId;
        if (stopping()) {
          // the session ended while the debit was on its way: the message is not sent, its charge goes back
          if (beforeSendCdr) await this.d.charging.refund(this.aor, this.callId, beforeSendCdr);
          break;
        }
      }
      // the reservation this message is charged on, fixed when it is sent (a renewal may replace it meanwhile)
      const rid = this.charged ? this.reservation!.reservationId : undefined;
      const sent = this.msrp!.send({ contentType: 'message/cpim', body: cpim, successReport: c.successReport });
      const settled = sent.then((outcome) => this.settle(m, outcome, rid, beforeSendCdr));
      settled.catch(() => undefined); // seen when awaited below (then the session hangs up), never unhandled
      inFlight.push(settled);
      if (inFlight.length >= window) await inFlight.shift();
    }
    await Promise.all(inFlight);
    if (this.state === RetrievalState.Delivering) {
      this.state = RetrievalState.Idle;
      this.d.mailboxChanged(this.aor);
      this.timer(c.sessionIdleMs, () => {
        if (this.state === RetrievalState.Idle) void this.hangUp('idle');
      });
    }
  }

  private get charged(): boolean {
    return !this.free && !this.unreserved && !!this.reservation;
  }

  /**
   * Steps 8–10 for one message: the debit the policy asks for, on the reservation it was sent on, then the deletion
   * after a 200. A SEND written but never answered before the session closed (the client withheld its 200 and hung
   * up) counts as a transaction timeout: `on-outcome` charges it, `before-send` keeps its charge, `on-delivery` does
   * not charge it; it stays stored either way. When the server cut the session (shutdown), it is treated as never
   * sent: not charged, and refunded under `before-send`.
   */
  private async settle(m: StoredMessageMeta, outcome: SendOutcome, rid: string | undefined, beforeSendCdr?: string): Promise<void> {
    const c = this.d.config;
    this.d.metrics.msrpSend(outcome.kind === 'rejected' ? `rejected-${outcome.status}` : outcome.kind);
    if (outcome.kind === 'closed' || (outcome.kind === 'unanswered' && this.serverCut)) {
      this.stopDelivering = true;
      // before-send: no byte of this message left (or the server cut the session), refund the charge taken for it
      if (beforeSendCdr) await this.d.charging.refund(this.aor, this.callId, beforeSendCdr);
      return;
    }
    if (outcome.kind === 'unanswered') this.stopDelivering = true;
    const debitOutcome = outcome.kind === 'delivered' ? 'delivered' : outcome.kind === 'rejected' ? 'rejected' : 'timeout';
    if (rid && c.chargingPolicy !== 'before-send') {
      // on-outcome (the CR as written): 200, 4xx and timeout are all charged; on-delivery: only 200
      if (c.chargingPolicy === 'on-outcome' || debitOutcome === 'delivered') {
        const d = await this.d.charging.debit(this.aor, this.callId, rid, m.id, debitOutcome, m.octets, true);
        // the session's reservation expired: the next message renews it (this one fell back to a direct debit)
        if (d.kind === 'answer' && d.res.result === 'UNKNOWN_RESERVATION' && this.reservation?.reservationId === rid) this.reservation = undefined;
      }
    } else if (this.unreserved && debitOutcome === 'delivered') {
      await this.d.charging.recordDeferredCharge(this.aor, this.callId, m.id, m.octets);
    }
    if (outcome.kind === 'delivered') {
      await this.deleteDelivered(m); // step 10: only after the MSRP 200 OK
      this.delivered++;
    }
  }

  /**
   * Step 10, retried with backoff for a few seconds: a Redis blip between a message's debit and its deletion would
   * leave it stored, to be delivered — and charged — again by the next retrieval.
   */
  private async deleteDelivered(m: StoredMessageMeta): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.d.store.delete(this.aor, m.id);
        return;
      } catch (e) {
        if (attempt >= DELETE_ATTEMPTS) throw e;
        this.d.log(`retrieval ${this.callId}: deleting delivered message ${m.id} failed (${(e as Error).message}); retrying`);
        await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** attempt)));
      }
    }
  }

  /** A reservation about to expire (or lost) while messages remain is renewed for the rest (retrieval-flow.md). */
  private renewalDue(): boolean {
    if (this.free || this.unreserved) return false;
    const left = this.reservation?.expiresAt ? Date.parse(this.reservation.expiresAt) - Date.now() : 0;
    const margin = Math.min(10000, (this.d.config.reservationValiditySeconds * 1000) / 5);
    return !this.reservation || left <= margin;
  }

  /** Called with nothing in flight: every message sent on the old reservation is settled before it is released. */
  private async renew(): Promise<void> {
    const rest = this.granted.filter((m) => !this.attempted.has(m.id));
    // release first: the old hold still covers exactly these messages, and the new reserve counts on that credit
    const old = this.reservation;
    this.reservation = undefined;
    if (old?.reservationId) await this.d.charging.release(this.aor, this.callId, old.reservationId);
    if (rest.length === 0) return;
    const r = await this.d.charging.reserve(this.aor, `rsv:${this.reserveKey}:renew${++this.renewals}`, this.callId, rest.map((m) => ({ id: m.id, octets: m.octets })));
    if (r.kind === 'answer' && r.res.result === 'SUCCESS') {
      this.reservation = r.res;
      const ids = new Set(r.res.grantedItems ?? []);
      this.granted = this.granted.filter((m) => this.attempted.has(m.id) || ids.has(m.id));
    } else {
      this.reservation = undefined;
      this.granted = [];
      void this.hangUp('the reservation could not be renewed');
    }
  }

  // ------------------------------------------------------------ step 11

  /** start() failed unexpectedly (Redis down, a bug): answer or end the session and give everything back. */
  async abort(e: Error): Promise<void> {
    this.d.log(`retrieval ${this.callId} for ${this.aor}: ${e.stack ?? e.message}`);
    if (this.state === RetrievalState.Reserving && !this.finishing) return this.refuse(500, 'Server Internal Error');
    await this.hangUp('internal error');
  }

  /** The server ends the session: BYE, then release. A second caller waits for the first one's end. */
  async hangUp(why: string): Promise<void> {
    if (this.finishing) return this.finishing;
    if (this.state === RetrievalState.Ended) return;
    this.d.log(`retrieval ${this.callId} for ${this.aor}: BYE (${why})`);
    const dialog = this.dialog;
    const answered = this.state !== RetrievalState.Reserving;
    await this.finish(why);
    if (dialog && answered) await this.d.sip.sendInDialog(dialog, this.tx.flow, 'BYE').catch(() => undefined);
  }

  /** Releases what is left of the reservation and frees everything; once, whoever asks (BYE, timers, shutdown). */
  finish(why: string): Promise<void> {
    if (this.state === RetrievalState.Ended && !this.finishing) return Promise.resolve();
    return (this.finishing ??= this.doFinish(why));
  }

  private async doFinish(why: string): Promise<void> {
    this.state = RetrievalState.Ending;
    this.serverCut = why === 'server shutting down' || why === 'internal error';
    for (const t of this.timers) t.cancel();
    this.retransmitter?.cancel();
    // A client BYE may overtake, on the SIP connection, the MSRP 200s it sent just before on the MSRP connection:
    // give responses already on the wire a moment. Then close MSRP: SENDs still waiting end as "unanswered" — kept
    // for the next retrieval, charged as a timeout where the policy charges one — rather than waiting out the
    // transaction timeout.
    if (why === 'client BYE' && this.delivering) {
      await Promise.race([this.delivering.catch(() => undefined), new Promise((r) => setTimeout(r, Math.min(1000, this.d.config.msrpTimeoutMs)).unref())]);
    }
    if (this.msrp) {
      this.msrp.close();
      this.d.unregister(this.msrp);
    }
    try {
      if (this.delivering && why !== 'internal error') await this.delivering.catch(() => undefined);
      this.conn?.end();
      const rid = this.reservation?.reservationId;
      this.reservation = undefined;
      if (rid) await this.d.charging.release(this.aor, this.callId, rid);
    } catch (e) {
      // the release could not even be queued (Redis down): the enabler's expiry sweeper returns the hold
      this.d.log(`retrieval ${this.callId}: ending (${why}): ${(e as Error).message}`);
    } finally {
      if (this.locked) await this.d.store.unlockRetrieval(this.aor, this.callId).catch(() => undefined);
      this.locked = false;
      this.state = RetrievalState.Ended;
      this.d.onEnded(this);
    }
  }
}
