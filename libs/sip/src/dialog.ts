/**
 * A dialog seen from the UAS that answered the INVITE (RFC 3261 §12.1.1): id = Call-ID + local tag (ours, in the
 * To of our 2xx) + remote tag (the From tag); remote target = the Contact of the INVITE; route set = its
 * Record-Route in order. In-dialog requests from us take the next local CSeq (§12.2.1.1); requests from the peer
 * must not go back in CSeq (§12.2.2: "If the remote sequence number … is lower than … it is out of order and MUST
 * be rejected with a 500").
 */
import { SipRequest } from './sip-message';
import { BRANCH_BITS, RandomSource, randomToken, randomUint31 } from './random';
import { MAGIC_COOKIE } from './transactions/transaction-layer';

export class Dialog {
  localSeq: number;
  remoteSeq: number;

  private constructor(
    readonly callId: string,
    readonly localTag: string,
    readonly remoteTag: string,
    readonly localUri: string,
    readonly remoteUri: string,
    readonly remoteTarget: string,
    readonly routeSet: string[],
    remoteSeq: number,
    private readonly random: RandomSource,
  ) {
    this.remoteSeq = remoteSeq;
    // §8.1.1.5: any first CSeq below 2**31 will do; a random one below 10,000 leaves room to count up
    this.localSeq = 1 + (randomUint31(random) % 10000);
  }

  /** `random` draws the branches of the requests this dialog sends (and its first CSeq). */
  static fromInvite(invite: SipRequest, localTag: string, random: RandomSource): Dialog | undefined {
    const from = invite.from;
    const to = invite.to;
    const contact = invite.contacts[0];
    if (!from || !to || !from.params.tag) return undefined;
    return new Dialog(
      invite.callId,
      localTag,
      from.params.tag,
      to.uriText,
      from.uriText,
      contact ? contact.uriText : from.uriText,
      invite.getAll('record-route'),
      invite.cseq.seq,
      random,
    );
  }

  get id(): string {
    return `${this.callId};${this.localTag};${this.remoteTag}`;
  }

  /** Whether an incoming request belongs to this dialog (Call-ID, To tag = ours, From tag = theirs). */
  matches(req: SipRequest): boolean {
    return req.callId === this.callId && req.to?.params.tag === this.localTag && req.from?.params.tag === this.remoteTag;
  }

  /** §12.2.2 CSeq rule for an incoming in-dialog request (ACK and CANCEL excepted). Returns false when out of order. */
  acceptRemoteCSeq(req: SipRequest): boolean {
    const seq = req.cseq.seq;
    if (seq < this.remoteSeq) return false;
    this.remoteSeq = seq;
    return true;
  }

  /** Builds an in-dialog request from the UAS side (e.g. BYE), §12.2.1.1. */
  createRequest(method: string, via: { transport: string; host: string; port: number }): SipRequest {
    const routes = this.routeSet;
    const strict = routes.length > 0 && !/;lr\b/i.test(routes[0]);
    // §12.2.1.1: loose routing puts the remote target in the Request-URI and the route set in Route
    const uri = strict ? routes[0].replace(/^.*<([^>]+)>.*$/, '$1') : this.remoteTarget;
    const req = new SipRequest(method, uri);
    req.add('Via', `SIP/2.0/${via.transport} ${via.host}:${via.port};branch=${MAGIC_COOKIE}${randomToken(this.random, BRANCH_BITS)};rport`);
    req.add('Max-Forwards', '70');
    req.add('From', `<${this.localUri}>;tag=${this.localTag}`);
    req.add('To', `<${this.remoteUri}>;tag=${this.remoteTag}`);
    req.add('Call-ID', this.callId);
    req.add('CSeq', `${++this.localSeq} ${method}`);
    const list = strict ? [...routes.slice(1), `<${this.remoteTarget}>`] : routes;
    for (const r of list) req.add('Route', r);
    return req;
  }
}
