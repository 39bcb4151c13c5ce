/**
 * Publishes one CDR to JetStream with `Nats-Msg-Id` = cdrId (the stream drops a re-publish inside its duplicate
 * window) over a shared reply subscription (NatsRequester), and answers with the stream's PubAck: the sequence the
 * stream stored the CDR under, and whether it was a duplicate of one it already had.
 */
import { headers, NatsConnection } from 'nats';
import { Cdr, cdrSubject, CdrType, NatsRequester, USAGE_REPORT_TYPE, usageReportSubject } from '@imc/ch2';

const enc = new TextEncoder();
const dec = new TextDecoder();
const PUBLISH_TIMEOUT_MS = 5000;

export interface PubAck {
  seq: number;
  duplicate: boolean;
}

export class CdrPublisher {
  private readonly requester: NatsRequester;

  constructor(nc: NatsConnection, private readonly subjectPrefix: string) {
    this.requester = new NatsRequester(nc);
  }

  /** Resolves on the stream's PubAck; throws on an error answer, a missing stream or a timeout. */
  async publish(cdr: Cdr): Promise<PubAck> {
    const h = headers();
    h.set('Nats-Msg-Id', cdr.cdrId);
    const type: string = cdr.type;
    const subject = type === USAGE_REPORT_TYPE ? usageReportSubject(this.subjectPrefix) : cdrSubject(cdr.type as CdrType, this.subjectPrefix);
    const m = await this.requester.request(subject, enc.encode(JSON.stringify(cdr)), PUBLISH_TIMEOUT_MS, h);
    const ack = JSON.parse(dec.decode(m.data)) as { stream?: string; seq?: number; duplicate?: boolean; error?: { description?: string } };
    if (ack.error || !ack.stream || typeof ack.seq !== 'number')
      throw new Error(`JetStream refused ${cdr.cdrId}: ${ack.error?.description ?? dec.decode(m.data)}`);
    return { seq: ack.seq, duplicate: ack.duplicate === true };
  }
}
