/**
 * Non-INVITE client transaction, RFC 3261 §17.1.2 (Figure 6), for the requests the server originates (BYE,
 * NOTIFY, forwarded MESSAGE):
 *   Trying ──Timer E retransmits (UDP: T1 doubling to T2)── Timer F (64·T1) ⇒ timeout
 *   Trying/Proceeding ──final──▶ Completed ──Timer K (T4 on UDP, 0 reliable)──▶ Terminated
 */
import type { Clock, TimerHandle } from '../clock';
import { SipRequest, SipResponse } from '../sip-message';
import { serializeSipMessage } from '../sip-serializer';
import { SipTimers, TransactionSink } from './timers';

export enum NonInviteClientState {
  Trying = 'Trying',
  Proceeding = 'Proceeding',
  Completed = 'Completed',
  Terminated = 'Terminated',
}

export type ClientOutcome = { kind: 'response'; response: SipResponse } | { kind: 'timeout' };

export class NonInviteClientTransaction {
  state = NonInviteClientState.Trying;
  private readonly bytes: Uint8Array;
  private timerE?: TimerHandle;
  private timerF?: TimerHandle;
  private timerK?: TimerHandle;
  private eInterval: number;
  readonly done: Promise<ClientOutcome>;
  private resolve!: (o: ClientOutcome) => void;

  constructor(
    readonly request: SipRequest,
    private readonly sink: TransactionSink,
    private readonly clock: Clock,
    private readonly timers: SipTimers,
    private readonly onTerminated: () => void = () => undefined,
    private readonly onProvisional: (r: SipResponse) => void = () => undefined,
  ) {
    this.done = new Promise((r) => (this.resolve = r));
    this.bytes = serializeSipMessage(request);
    this.eInterval = timers.T1;
    this.sink.send(this.bytes);
    // §17.1.2.2: "If an unreliable transport is in use, the client transaction MUST set timer E to fire in T1"
    if (!sink.reliable) this.timerE = clock.setTimer(this.eInterval, () => this.onTimerE());
    // "…timer F to fire in 64*T1 seconds"
    this.timerF = clock.setTimer(64 * timers.T1, () => {
      this.resolve({ kind: 'timeout' });
      this.stateTransition(NonInviteClientState.Terminated);
    });
  }

  private onTimerE(): void {
    if (this.state !== NonInviteClientState.Trying && this.state !== NonInviteClientState.Proceeding) return;
    this.sink.send(this.bytes);
    // Trying: doubling up to T2; Proceeding: every T2 (§17.1.2.2)
    this.eInterval = this.state === NonInviteClientState.Trying ? Math.min(this.eInterval * 2, this.timers.T2) : this.timers.T2;
    this.timerE = this.clock.setTimer(this.eInterval, () => this.onTimerE());
  }

  private stateTransition(next: NonInviteClientState): void {
    this.state = next;
    switch (next) {
      case NonInviteClientState.Completed:
        this.timerE?.cancel();
        this.timerF?.cancel();
        this.timerK = this.clock.setTimer(this.sink.reliable ? 0 : this.timers.T4, () => this.stateTransition(NonInviteClientState.Terminated));
        break;
      case NonInviteClientState.Terminated:
        for (const t of [this.timerE, this.timerF, this.timerK]) t?.cancel();
        this.onTerminated();
        break;
      default:
        break;
    }
  }

  onResponse(res: SipResponse): void {
    switch (this.state) {
      case NonInviteClientState.Trying:
      case NonInviteClientState.Proceeding:
        if (res.status < 200) {
          this.state = NonInviteClientState.Proceeding;
          this.onProvisional(res);
        } else {
          this.resolve({ kind: 'response', response: res });
          this.stateTransition(NonInviteClientState.Completed);
        }
        break;
      default:
        break; // Completed: retransmitted finals absorbed
    }
  }
}
