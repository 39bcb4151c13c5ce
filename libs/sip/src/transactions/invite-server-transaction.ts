/**
 * INVITE server transaction, RFC 3261 §17.2.1 as updated by RFC 6026 §7.1 (Figure 5 with the Accepted state).
 *
 *                 INVITE → Proceeding ──1xx──▶ Proceeding
 *   Proceeding ──2xx──▶ Accepted  (Timer L = 64·T1; INVITE retransmits absorbed, ACKs passed to the TU)
 *   Proceeding ──300-699──▶ Completed (Timer G retransmits on UDP, Timer H = 64·T1 waits for ACK)
 *   Completed ──ACK──▶ Confirmed (Timer I = T4 on UDP, 0 on reliable) ──▶ Terminated
 */
import type { Clock, TimerHandle } from '../clock';
import { SipRequest, SipResponse } from '../sip-message';
import { serializeSipMessage } from '../sip-serializer';
import { SipTimers, TransactionSink } from './timers';

export enum InviteServerState {
  Proceeding = 'Proceeding',
  Accepted = 'Accepted',
  Completed = 'Completed',
  Confirmed = 'Confirmed',
  Terminated = 'Terminated',
}

export interface InviteServerEvents {
  /** Timer H fired: no ACK for a final non-2xx response (§17.2.1 "the server transaction MUST … inform the TU"). */
  onTimeout?(): void;
  onTerminated?(): void;
}

export class InviteServerTransaction {
  state = InviteServerState.Proceeding;
  private last?: Uint8Array;
  private timerG?: TimerHandle;
  private timerH?: TimerHandle;
  private timerI?: TimerHandle;
  private timerL?: TimerHandle;
  private gInterval: number;

  constructor(
    readonly request: SipRequest,
    private readonly sink: TransactionSink,
    private readonly clock: Clock,
    private readonly timers: SipTimers,
    private readonly events: InviteServerEvents = {},
  ) {
    this.gInterval = timers.T1;
  }

  private stateTransition(next: InviteServerState): void {
    this.state = next;
    switch (next) {
      case InviteServerState.Accepted:
        // RFC 6026 §7.1: "the server transaction MUST … start Timer L … 64*T1"
        this.timerL = this.clock.setTimer(64 * this.timers.T1, () => this.stateTransition(InviteServerState.Terminated));
        break;
      case InviteServerState.Completed:
        // §17.2.1: "For unreliable transports, timer G is set to fire in T1 seconds"; "Timer H MUST be set to fire in 64*T1"
        if (!this.sink.reliable) this.timerG = this.clock.setTimer(this.gInterval, () => this.onTimerG());
        this.timerH = this.clock.setTimer(64 * this.timers.T1, () => {
          this.events.onTimeout?.();
          this.stateTransition(InviteServerState.Terminated);
        });
        break;
      case InviteServerState.Confirmed:
        this.timerG?.cancel();
        this.timerH?.cancel();
        // §17.2.1: "Timer I is set to fire in T4 seconds for unreliable transports, and zero seconds for reliable"
        this.timerI = this.clock.setTimer(this.sink.reliable ? 0 : this.timers.T4, () => this.stateTransition(InviteServerState.Terminated));
        break;
      case InviteServerState.Terminated:
        for (const t of [this.timerG, this.timerH, this.timerI, this.timerL]) t?.cancel();
        this.events.onTerminated?.();
        break;
      default:
        break;
    }
  }

  private onTimerG(): void {
    if (this.state !== InviteServerState.Completed || !this.last) return;
    this.sink.send(this.last);
    // §17.2.1: "the value of the timer is doubled, until it reaches T2"
    this.gInterval = Math.min(this.gInterval * 2, this.timers.T2);
    this.timerG = this.clock.setTimer(this.gInterval, () => this.onTimerG());
  }

  /** The TU sends a response through the transaction. */
  respond(res: SipResponse): void {
    switch (this.state) {
      case InviteServerState.Proceeding: {
        this.last = serializeSipMessage(res);
        this.sink.send(this.last);
        if (res.status >= 200 && res.status < 300) this.stateTransition(InviteServerState.Accepted);
        else if (res.status >= 300) this.stateTransition(InviteServerState.Completed);
        break;
      }
      case InviteServerState.Accepted:
        // RFC 6026 §7.1: 2xx retransmissions from the TU are passed to the transport
        if (res.status >= 200 && res.status < 300) this.sink.send(serializeSipMessage(res));
        break;
      default:
        break; // §17.2.1: no other responses after a final one
    }
  }

  /** A retransmission of the INVITE arrived. */
  onRetransmission(): void {
    switch (this.state) {
      case InviteServerState.Proceeding:
      case InviteServerState.Completed:
        // §17.2.1: "the most recent provisional response … MUST be passed to the transport" / final retransmitted
        if (this.last) this.sink.send(this.last);
        break;
      default:
        break; // Accepted: absorbed (RFC 6026 §7.1); Confirmed: absorbed
    }
  }

  /** An ACK matching this transaction (non-2xx) arrived. Returns true when the transaction absorbed it. */
  onAck(): boolean {
    switch (this.state) {
      case InviteServerState.Completed:
        this.stateTransition(InviteServerState.Confirmed);
        return true;
      case InviteServerState.Confirmed:
        return true;
      default:
        return false; // Accepted: the ACK for a 2xx belongs to the TU (dialog)
    }
  }

  /** The TU gave up (e.g. shutting down). */
  terminate(): void {
    if (this.state !== InviteServerState.Terminated) this.stateTransition(InviteServerState.Terminated);
  }
}
