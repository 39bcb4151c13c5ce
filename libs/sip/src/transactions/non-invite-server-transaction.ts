/**
 * Non-INVITE server transaction, RFC 3261 §17.2.2 (Figure 8):
 *   Trying ──1xx──▶ Proceeding ──final──▶ Completed ──Timer J (64·T1 on UDP, 0 on reliable)──▶ Terminated
 * Retransmitted requests get the last response again (absorbed in Trying).
 */
import type { Clock, TimerHandle } from '../clock';
import { SipRequest, SipResponse } from '../sip-message';
import { serializeSipMessage } from '../sip-serializer';
import { SipTimers, TransactionSink } from './timers';

export enum NonInviteServerState {
  Trying = 'Trying',
  Proceeding = 'Proceeding',
  Completed = 'Completed',
  Terminated = 'Terminated',
}

export class NonInviteServerTransaction {
  state = NonInviteServerState.Trying;
  private last?: Uint8Array;
  private timerJ?: TimerHandle;

  constructor(
    readonly request: SipRequest,
    private readonly sink: TransactionSink,
    private readonly clock: Clock,
    private readonly timers: SipTimers,
    private readonly onTerminated: () => void = () => undefined,
  ) {}

  private stateTransition(next: NonInviteServerState): void {
    this.state = next;
    switch (next) {
      case NonInviteServerState.Completed:
        // §17.2.2: "Timer J … 64*T1 seconds for unreliable transports, and zero seconds for reliable transports"
        this.timerJ = this.clock.setTimer(this.sink.reliable ? 0 : 64 * this.timers.T1, () => this.stateTransition(NonInviteServerState.Terminated));
        break;
      case NonInviteServerState.Terminated:
        this.timerJ?.cancel();
        this.onTerminated();
        break;
      default:
        break;
    }
  }

  respond(res: SipResponse): void {
    switch (this.state) {
      case NonInviteServerState.Trying:
      case NonInviteServerState.Proceeding:
        this.last = serializeSipMessage(res);
        this.sink.send(this.last);
        if (res.status >= 200) this.stateTransition(NonInviteServerState.Completed);
        else this.state = NonInviteServerState.Proceeding;
        break;
      default:
        break;
    }
  }

  onRetransmission(): void {
    switch (this.state) {
      case NonInviteServerState.Proceeding:
      case NonInviteServerState.Completed:
        if (this.last) this.sink.send(this.last);
        break;
      default:
        break; // Trying: "any retransmissions of the request … MUST be discarded"
    }
  }
}
