/**
 * The UAS core's 2xx retransmission (RFC 3261 §13.3.1.4): "the 2xx response … MUST be passed to the transport
 * with an interval that starts at T1 seconds and doubles for each retransmission until it reaches T2 seconds",
 * until the ACK arrives; "If the server retransmits the 2xx response for 64*T1 seconds without receiving an ACK,
 * the dialog is confirmed, but the session SHOULD be terminated … with a BYE". Over reliable transports the
 * response is sent once but the 64·T1 wait for the ACK still applies.
 */
import type { Clock, TimerHandle } from '../clock';
import { SipTimers, TransactionSink } from './timers';

export class Uas2xxRetransmitter {
  private timer?: TimerHandle;
  private giveUp?: TimerHandle;
  private interval: number;
  private acked = false;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly sink: TransactionSink,
    private readonly clock: Clock,
    private readonly timers: SipTimers,
    private readonly onNoAck: () => void,
  ) {
    this.interval = timers.T1;
  }

  /** `sendFirst` false when the first copy already left through the INVITE transaction. */
  start(sendFirst = true): void {
    if (sendFirst) this.sink.send(this.bytes);
    if (!this.sink.reliable) this.timer = this.clock.setTimer(this.interval, () => this.retransmit());
    this.giveUp = this.clock.setTimer(64 * this.timers.T1, () => {
      if (this.acked) return;
      this.timer?.cancel();
      this.onNoAck();
    });
  }

  private retransmit(): void {
    if (this.acked) return;
    this.sink.send(this.bytes);
    this.interval = Math.min(this.interval * 2, this.timers.T2);
    this.timer = this.clock.setTimer(this.interval, () => this.retransmit());
  }

  /** A retransmitted INVITE reached the TU: resend the 2xx (its transaction is Accepted). */
  resend(): void {
    if (!this.acked) this.sink.send(this.bytes);
  }

  ack(): void {
    this.acked = true;
    this.timer?.cancel();
    this.giveUp?.cancel();
  }

  cancel(): void {
    this.ack();
  }

  get isAcked(): boolean {
    return this.acked;
  }
}
