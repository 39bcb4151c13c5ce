/**
 * One retrieval of deferred messages: INVITE the deferred-messaging URI with an MSRP offer (RFC 4975 §8), connect
 * (or be connected) over the transport the adapter provides, bind (RFC 4975 §5.4), receive and answer each message,
 * and end — when the server hangs up (its BYE), or on the client's side after `expect` messages, `idleMs` of
 * silence, `timeoutMs`, or whenever the caller ends it (`onStarted`) — with a BYE. Browser-safe: the transport,
 * clock and random source come from the caller.
 */
import { SessionState } from 'sip.js';
import { Imdn, IncomingMessage, MsrpClock, MsrpRandom, MsrpSession, newSessionId, parseImdn, unwrapCpim } from '@imc/msrp';
import { ACCEPT_WITH_AOC, AocInfo, readSipBody } from './aoc';
import { msrpOffer, MsrpTransport } from './msrp-transport';
import type { SipUser } from './sip-user';

export interface ReceivedMessage {
  from?: string;
  to?: string;
  dateTime?: string;
  imdnMessageId?: string;
  contentType?: string;
  text: string;
  /** A receipt (RFC 5438 IMDN, `message/imdn+xml`) for a message this user sent: its status and the message's id. */
  imdn?: Imdn;
  raw: IncomingMessage;
}

export interface RetrievalOptions {
  transport: MsrpTransport;
  clock: MsrpClock;
  random: MsrpRandom;
  /** Default sip:deferred@<the user's domain>. */
  deferredUri?: string;
  /** Status to answer each message with (default 200); undefined = never answer (tests of the timeout). */
  answer?: (m: IncomingMessage, index: number) => number | undefined;
  /** End (send BYE) after this many messages. */
  expect?: number;
  /** End after this long without a message. */
  idleMs?: number;
  /** End this long after the messages started to flow (default 30 s). */
  timeoutMs?: number;
  onMessage?: (m: ReceivedMessage) => void;
  /**
   * Ask for advice of charge (default true): the INVITE's Accept lists `application/vnd.etsi.aoc+xml` (TS 24.647),
   * so a server that knows it answers with SDP + AoC-S (RFC 5621) and puts AoC-E in the BYE or in its 200 to ours.
   * A server that does not answers SDP only, as before.
   */
  adviceOfCharge?: boolean;
  /** Each AoC body the server sent: AoC-S with the 200 OK, AoC-E at the end. */
  onAdvice?: (a: AocInfo) => void;
  /** Called once the session is bound, with the function that ends the retrieval from the client's side. */
  onStarted?: (end: () => void, received: readonly ReceivedMessage[]) => void;
}

export interface RetrievalResult {
  messages: ReceivedMessage[];
  /** Final status of the INVITE (200, or the refusal). */
  status: number;
  reason?: string;
  warning?: string;
  endedBy: 'client' | 'server' | 'refused';
  /** The 200 OK's Content-Type: `application/sdp`, or `multipart/mixed` with the AoC-S beside the SDP. */
  answerContentType?: string;
  /** The price of the granted messages (AoC-S), when the server sent it. */
  aocS?: AocInfo;
  /** The session's cost and the balance after (AoC-E), when the server sent it. */
  aocE?: AocInfo;
}

/** A received MSRP message with its message/cpim envelope (RFC 3862) opened, when it has one. */
function unwrap(m: IncomingMessage): ReceivedMessage {
  const c = m.contentType.toLowerCase().startsWith('message/cpim') ? unwrapCpim(m.body) : undefined;
  const contentType = c?.contentType ?? m.contentType;
  const text = new TextDecoder().decode(c ? c.body : m.body);
  const imdn = contentType.split(';')[0].trim().toLowerCase() === 'message/imdn+xml' ? parseImdn(text) : undefined;
  return {
    from: c?.from,
    to: c?.to,
    dateTime: c?.dateTime,
    imdnMessageId: c?.imdnMessageId,
    contentType,
    text,
    ...(imdn ? { imdn } : {}),
    raw: m,
  };
}

export async function retrieveDeferred(user: SipUser, o: RetrievalOptions): Promise<RetrievalResult> {
  const cid = newSessionId(o.random); // RFC 4975 §14.1: ≥ 80 random bits
  const messages: ReceivedMessage[] = [];
  const result: RetrievalResult = { messages, status: 0, endedBy: 'client' };
  let done!: (why: 'client' | 'server') => void;
  const finished = new Promise<'client' | 'server'>((r) => (done = r));
  let idle: { cancel(): void } | undefined;
  let timeout: { cancel(): void } | undefined;
  const armIdle = () => {
    if (!o.idleMs) return;
    idle?.cancel();
    idle = o.clock.setTimer(o.idleMs, () => done('client'));
  };
  let session: MsrpSession | undefined;
  try {
    const side = await o.transport.prepare(cid);
    const { inviter, answerSdp } = user.call(o.deferredUri ?? `sip:deferred@${user.domain}`, msrpOffer(side, o.clock.now()), o.adviceOfCharge === false ? [] : [`Accept: ${ACCEPT_WITH_AOC}`]);
    const advice = (body: string | undefined, contentType: string | undefined) => {
      const aoc = body ? readSipBody(body, contentType).aoc : undefined;
      if (aoc?.kind === 'aoc-s') result.aocS = aoc;
      else if (aoc?.kind === 'aoc-e') result.aocE = aoc;
      if (aoc) o.onAdvice?.(aoc);
    };
    // the server's BYE may carry the AoC-E; with a delegate, sip.js leaves the answer to us
    inviter.delegate = {
      onBye: (bye) => {
        advice(bye.request.body, bye.request.getHeader('Content-Type'));
        void bye.accept();
      },
    };
    const established = new Promise<void>((resolve) => {
      inviter.stateChange.addListener((s) => {
        if (s === SessionState.Established) resolve();
        if (s === SessionState.Terminated) done('server');
      });
    });
    await inviter.invite({
      requestDelegate: {
        onReject: (r) => {
          result.status = r.message.statusCode ?? 0;
          result.reason = r.message.reasonPhrase;
          result.warning = r.message.getHeader('Warning');
          result.endedBy = 'refused';
          done('server');
        },
        onAccept: (r) => {
          result.status = r.message.statusCode ?? 200;
          result.answerContentType = r.message.getHeader('Content-Type');
          advice(r.message.body, result.answerContentType);
        },
      },
    });
    if ((await Promise.race([established.then(() => 'up' as const), finished])) !== 'up') return result;
    // the answer tells where the server's MSRP endpoint is
    const sdp = answerSdp() ?? '';
    const remotePath = /a=path:(\S+)/.exec(sdp)?.[1];
    if (!remotePath) throw new Error('the 200 OK carried no a=path');
    const answer = o.answer;
    const s = new MsrpSession({
      localPath: side.localPath,
      remotePath,
      clock: o.clock,
      random: o.random,
      answer: answer ? (m) => answer(m, messages.length) : undefined,
    });
    session = s;
    s.onMessage((m) => {
      const r = unwrap(m);
      messages.push(r);
      o.onMessage?.(r);
      armIdle();
      if (o.expect !== undefined && messages.length >= o.expect) done('client');
    });
    const conn = await o.transport.connect({ path: remotePath, sdp }, { find: (id: string) => (id === cid ? s : undefined) });
    if (conn) {
      conn.adopt(s);
      await s.sendBind(); // RFC 4975 §5.4, RFC 7977 §5.4: the active endpoint binds with an empty SEND
    }
    armIdle();
    timeout = o.clock.setTimer(o.timeoutMs ?? 30000, () => done('client'));
    o.onStarted?.(() => done('client'), messages);
    result.endedBy = await finished;
    if (result.endedBy === 'client' && inviter.state === SessionState.Established) await byeAndRead(inviter, o.clock, advice);
    return result;
  } finally {
    idle?.cancel();
    timeout?.cancel();
    session?.close();
    o.transport.close();
  }
}

/** Our BYE, waiting (at most 2 s) for its final answer, whose body may carry the AoC-E. */
async function byeAndRead(inviter: { bye(o: object): Promise<unknown> }, clock: MsrpClock, advice: (body: string | undefined, ct: string | undefined) => void): Promise<void> {
  let timer: { cancel(): void } | undefined;
  await new Promise<void>((resolve) => {
    timer = clock.setTimer(2000, resolve);
    type Answer = { message: { body?: string; getHeader(n: string): string | undefined } };
    const done = (r?: Answer) => {
      if (r) advice(r.message.body, r.message.getHeader('Content-Type'));
      resolve();
    };
    inviter.bye({ requestDelegate: { onAccept: (r: Answer) => done(r), onReject: () => done() } }).catch(() => done());
  });
  timer?.cancel();
}
