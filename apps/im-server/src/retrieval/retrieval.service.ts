/**
 * The retrieval side of the im-server: owns the MSRP listeners (TCP, TLS and WebSocket) and the retrieval sessions,
 * and implements the `RetrievalHandler` boundary the SIP front calls for INVITE/ACK/BYE/CANCEL. Each message a
 * session delivers goes to the receipts (`ReceiptService.delivered`: an IMDN `delivered` when the sender asked).
 */
import type { InviteServerTransaction, SipRequest, TimerHandle } from '@imc/sip';
import type { BindRefusal, MsrpSession } from '@imc/msrp';
import { MsrpTcpServer, MsrpWsServer, UnboundLimiter } from '@imc/msrp-node';
import type { ImServerConfig } from '../config';
import type { DeferredStore, StoredMessageMeta } from '../store/deferred-store';
import type { ChargingGateway } from '../charging/charging-gateway';
import type { ImMetrics } from '../observability/im-metrics';
import type { RetrievalHandler, ServerTx } from '../sip/sip-context';
import type { SipFrontPort } from '../sip/sip-port';
import type { ReceiptService } from '../receipts/receipt.service';
import { RetrievalSession } from './retrieval-session';
import { EndReasons, RetrievalState } from './retrieval-state';
import { nodeMsrpLegs } from './msrp-leg';

export class RetrievalService implements RetrievalHandler {
  private readonly byCallId = new Map<string, RetrievalSession>();
  private readonly byMsrpId = new Map<string, RetrievalSession>();
  private readonly msrpSessions = new Map<string, MsrpSession>();
  /** MSRP session-id → the allowance its answered session holds for its client's connection (UnboundLimiter.expect). */
  private readonly awaitingBind = new Map<string, () => void>();
  private unbound?: UnboundLimiter;
  private tcp?: MsrpTcpServer;
  private tls?: MsrpTcpServer;
  private ws?: MsrpWsServer;
  private accepting = true;

  constructor(
    private readonly config: ImServerConfig,
    private readonly sip: SipFrontPort,
    private readonly store: DeferredStore,
    private readonly charging: ChargingGateway,
    private readonly metrics: ImMetrics,
    private readonly log: (m: string) => void,
    /** The user's mailbox changed (message-summary NOTIFY to their subscriptions). */
    private readonly mailboxChanged: (aor: string) => void,
    /** IMDN receipts back to senders (retrieval-flow.md "Delivery notifications"). */
    private readonly receipts: Pick<ReceiptService, 'delivered'>,
  ) {}

  async start(): Promise<void> {
    const directory = { find: (id: string) => this.msrpSessions.get(id) };
    const events = {
      onBound: (s: MsrpSession) => {
        this.boundOrGone(s.id);
        this.byMsrpId.get(s.id)?.onMsrpBound();
      },
      onLost: (lost: MsrpSession[]) => {
        for (const s of lost) this.byMsrpId.get(s.id)?.onMsrpLost();
      },
      // RFC 4975 §14.1: the session-id is the secret that binds a connection; the log names the peer and the reason only
      onRefused: (r: BindRefusal) => this.log(`MSRP connection from ${r.peer} refused${r.status ? ` (${r.status})` : ''}: ${r.reason}`),
    };
    // one allowance for the three listeners: until its first request binds, a connection is anonymous (RFC 4975 §14.1)
    // an answered session's client is expected to connect: its source gets one more (UnboundLimiter.expect)
    const unbound = (this.unbound = new UnboundLimiter(this.config.msrpMaxUnboundPerSource, this.config.msrpMaxUnbound));
    const options = { bindTimeoutMs: this.config.msrpBindTimeoutMs, unbound };
    const limits = { maxChunkBytes: Math.max(this.config.maxMessageBytes * 2, 1024 * 1024) };
    if (this.config.msrpTcpPort) {
      this.tcp = new MsrpTcpServer(directory, events, limits, options);
      await this.tcp.listen(this.config.msrpTcpPort, this.config.bindHost);
    }
    if (this.config.msrpTls) {
      // msrps (RFC 4975 §14): sessions answered with a TCP/TLS/MSRP path bind only here
      this.tls = new MsrpTcpServer(directory, events, limits, { ...options, tls: { cert: this.config.msrpTls.cert, key: this.config.msrpTls.key } });
      await this.tls.listen(this.config.msrpTls.port, this.config.bindHost);
    }
    if (this.config.msrpWsPort) {
      this.ws = new MsrpWsServer(directory, events, limits, options);
      await this.ws.listen(this.config.msrpWsPort, this.config.bindHost);
    }
  }

  get ports() {
    return { tcp: this.tcp?.port ?? 0, ws: this.ws?.port ?? 0, tls: this.tls?.port ?? 0 };
  }

  get activeSessions(): number {
    return this.byCallId.size;
  }

  async onInvite(tx: ServerTx, aor: string): Promise<void> {
    if (!this.accepting) return void tx.respond(503, 'Shutting Down', { headers: [['Retry-After', '30']] });
    // a new INVITE (new CSeq, no To tag) on the Call-ID of a live session must not take that session's place
    const live = this.byCallId.get(tx.request.callId);
    if (live && live.state !== RetrievalState.Ended) {
      return void tx.respond(486, 'Busy Here', { headers: [['Warning', `399 ${this.config.advertisedHost} "a retrieval session with this Call-ID is in progress"`]] });
    }
    const session: RetrievalSession = new RetrievalSession(tx, aor, {
      config: this.config,
      sip: this.sip,
      store: this.store,
      charging: this.charging,
      metrics: this.metrics,
      msrpPorts: () => this.ports,
      msrp: nodeMsrpLegs(
        (m) => {
          this.msrpSessions.set(m.id, m);
          this.byMsrpId.set(m.id, session);
          if (this.unbound) this.awaitingBind.set(m.id, this.unbound.expect(tx.flow.remoteAddress));
        },
        (m) => {
          this.msrpSessions.delete(m.id);
          this.byMsrpId.delete(m.id);
          this.boundOrGone(m.id);
        },
      ),
      onEnded: (s) => {
        if (this.byCallId.get(s.callId) === s) this.byCallId.delete(s.callId);
        this.metrics.sessions.set(this.byCallId.size);
      },
      log: this.log,
      mailboxChanged: this.mailboxChanged,
      observer: this.observer,
    });
    this.byCallId.set(session.callId, session);
    this.metrics.sessions.set(this.byCallId.size);
    await session.start().catch((e: Error) => session.abort(e));
  }

  private boundOrGone(msrpId: string): void {
    this.awaitingBind.get(msrpId)?.();
    this.awaitingBind.delete(msrpId);
  }

  /** After each MSRP 200 OK and deletion: the sender's `delivered` receipt, never holding up the session. */
  private readonly observer = {
    delivered: (m: StoredMessageMeta) => {
      void this.receipts.delivered(m).catch((e: Error) => this.log(`IMDN delivered for ${m.id} of ${m.to}: ${e.message}`));
    },
    ended: () => undefined,
  };

  private find(req: SipRequest): RetrievalSession | undefined {
    const s = this.byCallId.get(req.callId);
    return s && s.dialog?.matches(req) ? s : undefined;
  }

  onAck(req: SipRequest): boolean {
    const s = this.find(req);
    if (!s) return false;
    s.onAck();
    return true;
  }

  onBye(tx: ServerTx): boolean {
    const s = this.find(tx.request);
    if (!s) return false;
    s.onBye(tx);
    return true;
  }

  onCancel(inviteTx: InviteServerTransaction): boolean {
    const s = this.byCallId.get(inviteTx.request.callId);
    return s ? s.onCancel() : false;
  }

  /** Stops taking retrievals, lets sessions finish up to the deadline, then ends the rest (BYE + release). */
  async shutdown(deadlineMs: number): Promise<void> {
    this.accepting = false;
    const live = [...this.byCallId.values()];
    if (live.length) {
      let deadline: TimerHandle | undefined;
      const elapsed = new Promise<void>((r) => (deadline = this.sip.clock.setTimer(deadlineMs, r)));
      await Promise.race([Promise.all(live.map((s) => s.ended)), elapsed]);
      deadline?.cancel();
    }
    await Promise.all([...this.byCallId.values()].filter((s) => s.state !== RetrievalState.Ended).map((s) => s.hangUp(EndReasons.shutdown)));
    await this.tcp?.close();
    await this.tls?.close();
    await this.ws?.close();
  }
}
