/**
 * The SIP front of the im-server: UDP, TCP and WebSocket listeners, the transaction layer, authentication, and
 * request routing — registrar (RFC 3261 §10), pager-mode deposit (RFC 3428), message-summary subscriptions
 * (RFC 3842), and the INVITE dialogs of deferred retrieval, which it hands to the `RetrievalHandler`.
 * Robustness (protocol-notes.md §4): 400 naming the problem, 405 + Allow, 501, 481, 482, 483, 420, 513.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import {
  aorOf,
  createResponse,
  Dialog,
  DigestCrypto,
  InviteServerTransaction,
  InviteServerState,
  MAGIC_COOKIE,
  parseSipMessage,
  parseUri,
  randomToken,
  serializeSipMessage,
  SipRequest,
  SipResponse,
  stampVia,
  systemClock,
  TransactionLayer,
  TransactionSink,
  Clock,
  RandomSource,
  BRANCH_BITS,
  CALL_ID_BITS,
  TimerHandle,
} from '@imc/sip';
import { checkSubscriber } from '@imc/ch2';
import { SipFlow, TcpSipTransport, UdpSipTransport, WsSipTransport, SipTransport } from '@imc/sip-node';
import { nodeRandom } from '@imc/msrp-node';
import type { ImServerConfig } from '../config';
import type { DeferredStore } from '../store/deferred-store';
import type { UserStore } from '../store/user-store';
import type { ImMetrics } from '../observability/im-metrics';
import type { RetrievalHandler, ServerTx } from './sip-context';
import type { SipAuthenticator } from '../auth/sip-authenticator';
import type { SipFrontPort } from './sip-port';

export const ALLOW = 'INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, MESSAGE, SUBSCRIBE, NOTIFY';
const KNOWN_METHODS = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'MESSAGE', 'SUBSCRIBE', 'NOTIFY', 'INFO', 'UPDATE', 'PRACK', 'REFER', 'PUBLISH']);
const SUPPORTED_EXTENSIONS = new Set<string>(['path', 'outbound']);
/** Merged-request memory (§8.2.2.2): entries live 64·T1 (the life of the transaction that would be merged) and are never more than this. */
export const MAX_MERGED_ENTRIES = 20000;

/**
 * A copy of `s` that shares no memory with the message it came from: V8 keeps a substring as a slice of its parent,
 * so a short key cut from a request would otherwise pin the whole decoded header section for as long as it is kept.
 */
function detached(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

/** A metrics label for a method: the ones we know, else one shared label (a peer must not mint new time series). */
function methodLabel(m: string): string {
  return KNOWN_METHODS.has(m) ? m : '(other)';
}

export const nodeDigestCrypto: DigestCrypto = {
  hash: (a, t) => createHash(a === 'MD5' ? 'md5' : 'sha256').update(t).digest('hex'),
  hmac: (k, t) => createHmac('sha256', k).update(t).digest('hex'),
  random: (n) => randomBytes(n).toString('hex'),
};

interface Subscription {
  dialog: Dialog;
  flow: SipFlow;
  expiresAt: number;
  transport: string;
}

export interface SipLogger {
  log(m: string): void;
  warn(m: string): void;
  error(m: string): void;
}

export class SipServer implements SipFrontPort {
  readonly layer: TransactionLayer;
  private readonly transports: SipTransport[] = [];
  udp?: UdpSipTransport;
  tcp?: TcpSipTransport;
  ws?: WsSipTransport;
  tls?: TcpSipTransport;
  wss?: WsSipTransport;
  private readonly flows = new Map<string, SipFlow>();
  private readonly subscriptions = new Map<string, Subscription[]>();
  private readonly merged = new Map<string, { branch: string; at: number }>();
  private mergedSweep?: TimerHandle;
  retrieval?: RetrievalHandler;
  private stopping = false;
  private stopped = false;

  constructor(
    readonly config: ImServerConfig,
    private readonly store: DeferredStore,
    private readonly users: UserStore,
    private readonly metrics: ImMetrics,
    private readonly logger: SipLogger,
    /** Digest (with shared nonce-counts and throttling) or a trusted proxy's identity: see auth/sip-authenticator.ts. */
    private readonly auth: SipAuthenticator,
    readonly clock: Clock = systemClock,
    /** Tags, branches and Call-IDs (RFC 3261 §19.3): node:crypto unless a test injects another source. */
    readonly random: RandomSource = nodeRandom,
  ) {
    this.layer = new TransactionLayer(clock, { T1: config.sipT1, T2: config.sipT2, T4: config.sipT4 }, { maxServerTransactions: config.sipMaxTransactions });
  }

  /** Listeners on the configured ports; a port of 0 turns that transport off (operations.md). */
  async start(): Promise<void> {
    const c = this.config;
    const limits = {
      maxBodyBytes: Math.max(c.maxMessageBytes + 4096, 65536),
      messageTimeoutMs: c.sipTcpMessageTimeoutMs,
      maxPartialPerSource: c.sipTcpMaxPartialPerSource,
      idleTimeoutMs: c.sipTcpIdleTimeoutMs,
    };
    if (c.sipUdpPort) {
      this.udp = new UdpSipTransport();
      await this.udp.listen(c.sipUdpPort, c.bindHost);
      this.transports.push(this.udp);
    }
    if (c.sipTcpPort) {
      this.tcp = new TcpSipTransport(limits);
      await this.tcp.listen(c.sipTcpPort, c.bindHost);
      this.transports.push(this.tcp);
    }
    if (c.sipWsPort) {
      this.ws = new WsSipTransport({ maxPayload: limits.maxBodyBytes });
      await this.ws.listen(c.sipWsPort, c.bindHost);
      this.transports.push(this.ws);
    }
    if (c.tls) {
      const opts = { cert: c.tls.cert, key: c.tls.key };
      if (c.tls.sipTlsPort) {
        this.tls = new TcpSipTransport({ ...limits, tls: opts });
        await this.tls.listen(c.tls.sipTlsPort, c.bindHost);
        this.transports.push(this.tls);
      }
      if (c.tls.sipWssPort) {
        this.wss = new WsSipTransport({ maxPayload: limits.maxBodyBytes, tls: opts });
        await this.wss.listen(c.tls.sipWssPort, c.bindHost);
        this.transports.push(this.wss);
      }
    }
    for (const t of this.transports) t.onMessage((b, f) => this.onBytes(b, f));
  }

  /** Stops taking new requests (new INVITEs get 503) — in-flight dialogs go on until closed. */
  drain(): void {
    this.stopping = true;
  }

  async close(): Promise<void> {
    this.stopping = true;
    this.stopped = true;
    this.mergedSweep?.cancel();
    await Promise.all(this.transports.map((t) => t.close()));
  }

  get ports() {
    return { udp: this.udp?.port ?? 0, tcp: this.tcp?.port ?? 0, ws: this.ws?.port ?? 0, tls: this.tls?.port ?? 0, wss: this.wss?.port ?? 0 };
  }

  /** Via for a request we originate on a flow. */
  viaFor(flow: SipFlow): { transport: string; host: string; port: number } {
    const p = this.ports;
    const port = { UDP: p.udp, TCP: p.tcp, WS: p.ws, TLS: p.tls, WSS: p.wss }[flow.transport];
    return { transport: flow.transport, host: this.config.advertisedHost, port };
  }

  sinkFor(flow: SipFlow): TransactionSink {
    return { reliable: flow.reliable, send: (b) => flow.send(b) };
  }

  get timers() {
    return this.layer.timers;
  }

  async send(req: SipRequest, flow: SipFlow): Promise<number | 'timeout'> {
    const out = await this.layer.sendRequest(req, this.sinkFor(flow)).done;
    return out.kind === 'response' ? out.response.status : 'timeout';
  }

  // ---------------------------------------------------------------- inbound

  private onBytes(bytes: Uint8Array, flow: SipFlow): void {
    const parsed = parseSipMessage(bytes, { datagram: !flow.reliable || flow.transport === 'WS' || flow.transport === 'WSS', maxBodyBytes: this.config.maxMessageBytes + 65536 });
    if (!parsed.ok) {
      this.metrics.sipRequest('(malformed)', parsed.status);
      // §21.4.1: answer a malformed request with a 400 whose reason names the problem, when it can be addressed
      const p = parsed.partial;
      if (p && p.method !== 'ACK' && p.topVia) {
        stampVia(p, flow.remoteAddress, flow.remotePort);
        this.sendResponse(flow, createResponse(p, parsed.status, parsed.reason, { random: this.random }));
      }
      return;
    }
    const msg = parsed.message;
    if (msg instanceof SipResponse) {
      this.layer.receiveResponse(msg);
      return;
    }
    // a connection is kept (to reach a registered user over it) until it closes, and no longer
    if (flow.reliable && this.flows.get(flow.id) !== flow) {
      this.flows.set(flow.id, flow);
      flow.onClose?.(() => {
        if (this.flows.get(flow.id) === flow) this.flows.delete(flow.id);
      });
    }
    stampVia(msg, flow.remoteAddress, flow.remotePort);
    const sink = this.sinkFor(flow);
    const verdict = this.layer.receiveRequest(msg, sink, {
      onTimeout: () => undefined,
    });
    switch (verdict.kind) {
      case 'absorbed':
        return;
      case 'overloaded':
        // §21.5.4 / protocol-notes.md §4: overload → 503 + Retry-After, answered statelessly
        this.metrics.sipRequest(methodLabel(msg.method), 503);
        if (msg.method !== 'ACK') this.sendResponse(flow, createResponse(msg, 503, 'Service Unavailable', { headers: [['Retry-After', '5']] }));
        return;
      case 'ack':
        if (!this.retrieval?.onAck(msg)) this.metrics.sipRequest('ACK', 0);
        return;
      case 'new-invite':
      case 'new': {
        const tx = this.serverTx(verdict.tx, flow, sink);
        this.route(tx).catch((e: Error) => {
          this.logger.error(`${msg.method} ${msg.callId}: ${e.stack ?? e.message}`);
          if (!this.answered(tx)) tx.respond(500, 'Server Internal Error');
        });
        return;
      }
    }
  }

  private answered(tx: ServerTx): boolean {
    return tx.tx.state !== 'Trying' && tx.tx.state !== 'Proceeding';
  }

  private serverTx(t: ServerTx['tx'], flow: SipFlow, sink: TransactionSink): ServerTx {
    const metrics = this.metrics;
    const random = this.random;
    const req = t.request;
    return {
      request: req,
      flow,
      sink,
      tx: t,
      respond(status, reason, opts = {}) {
        const res = createResponse(req, status, reason, { random, ...opts });
        if (status >= 200 || status === 100) {
          if (status >= 200) metrics.sipRequest(methodLabel(req.method), status);
        }
        t.respond(res);
        return res;
      },
    };
  }

  /** Responses outside a transaction (malformed requests) go back on the flow they came from (RFC 3581 §4). */
  private sendResponse(flow: SipFlow, res: SipResponse): void {
    flow.send(serializeSipMessage(res));
  }

  private async route(tx: ServerTx): Promise<void> {
    const req = tx.request;
    const m = req.method;
    if (!KNOWN_METHODS.has(m)) return void tx.respond(501, 'Not Implemented', { headers: [['Allow', ALLOW]] });
    // §8.2.2.3: Require with an option we do not understand → 420 + Unsupported
    const unknown = req.getAll('require').filter((o) => !SUPPORTED_EXTENSIONS.has(o.toLowerCase()));
    if (unknown.length && m !== 'CANCEL') return void tx.respond(420, 'Bad Extension', { headers: [['Unsupported', unknown.join(', ')]] });
    // §8.2.2.2 merged requests (same From tag, Call-ID and CSeq arriving by another branch) → 482
    if (!req.to?.params.tag && m !== 'CANCEL' && this.isMerged(req)) return void tx.respond(482, 'Loop Detected');
    if (this.stopping && (m === 'INVITE' || m === 'MESSAGE' || m === 'SUBSCRIBE'))
      return void tx.respond(503, 'Shutting Down', { headers: [['Retry-After', '30']] });
    switch (m) {
      case 'OPTIONS':
        tx.respond(200, 'OK', { headers: [['Allow', ALLOW], ['Accept', 'application/sdp, text/plain, message/cpim'], ['Supported', '']] });
        return;
      case 'REGISTER':
        return this.onRegister(tx);
      case 'MESSAGE':
        return this.onMessage(tx);
      case 'SUBSCRIBE':
        return this.onSubscribe(tx);
      case 'INVITE':
        return this.onInvite(tx);
      case 'BYE':
        if (!this.retrieval?.onBye(tx)) tx.respond(481, 'Call/Transaction Does Not Exist');
        return;
      case 'CANCEL': {
        const invite = this.layer.findInviteFor(req);
        if (!invite) return void tx.respond(481, 'Call/Transaction Does Not Exist');
        tx.respond(200, 'OK'); // §9.2: the CANCEL itself is answered 200, the INVITE then gets 487
        if (!this.retrieval?.onCancel(invite) && invite.state === InviteServerState.Proceeding) {
          // cancelled before its retrieval session exists (e.g. while authenticating): answer 487 here
          invite.respond(createResponse(invite.request, 487, 'Request Terminated', { random: this.random }));
        }
        return;
      }
      case 'NOTIFY':
      case 'INFO':
      case 'UPDATE':
      case 'PRACK':
        tx.respond(481, 'Call/Transaction Does Not Exist');
        return;
      default:
        tx.respond(405, 'Method Not Allowed', { headers: [['Allow', ALLOW]] }); // §8.2.1: 405 MUST carry Allow
    }
  }

  /**
   * §8.2.2.2 merged requests. The memory of what was seen is bounded in time (64·T1, the clock's) and in size:
   * entries are kept in arrival order, so the expired ones are always at the front.
   */
  private isMerged(req: SipRequest): boolean {
    const key = `${req.from?.params.tag}|${req.callId}|${req.get('cseq')}`;
    const branch = req.topVia?.branch ?? '';
    const now = this.clock.now();
    const window = 64 * this.config.sipT1;
    this.evictMerged(now);
    const seen = this.merged.get(key);
    if (seen && seen.branch !== branch && now - seen.at < window) return true;
    this.merged.delete(key); // re-inserted at the back: arrival order stays time order
    this.merged.set(detached(key), { branch: detached(branch), at: now });
    // and when requests stop coming, the clock empties it
    this.mergedSweep ??= this.clock.setTimer(window, () => this.sweepMerged());
    return false;
  }

  private evictMerged(now: number): void {
    const window = 64 * this.config.sipT1;
    for (const [k, v] of this.merged) {
      if (now - v.at < window && this.merged.size < MAX_MERGED_ENTRIES) break;
      this.merged.delete(k);
    }
  }

  private sweepMerged(): void {
    this.mergedSweep = undefined;
    if (this.stopped) return;
    this.evictMerged(this.clock.now());
    const oldest = this.merged.values().next();
    if (!oldest.done) this.mergedSweep = this.clock.setTimer(Math.max(1, oldest.value.at + 64 * this.config.sipT1 - this.clock.now()), () => this.sweepMerged());
  }

  /** Sizes of the maps a peer can grow (bounded; the memory test reads them). */
  get mapSizes(): { flows: number; merged: number; subscriptions: number; transactions: number } {
    return { flows: this.flows.size, merged: this.merged.size, subscriptions: this.subscriptions.size, transactions: this.layer.size.server + this.layer.size.client };
  }

  // ---------------------------------------------------------------- authentication

  /**
   * The identity of a request (ARCHITECTURE.md "Identity comes from authentication"): the digest username's AOR,
   * or the P-Asserted-Identity of a trusted proxy. Never the From header. Answers 401/403/400 itself and returns
   * undefined when the request is not authenticated (the rules and the RFC behind each answer: SipAuthenticator).
   */
  authenticate(tx: ServerTx, mode: 'digest' | 'none' = this.config.auth): Promise<string | undefined> {
    return this.auth.authenticate(tx, mode);
  }

  // ---------------------------------------------------------------- REGISTER (RFC 3261 §10.3)

  private async onRegister(tx: ServerTx): Promise<void> {
    const req = tx.request;
    const aor = await this.authenticate(tx);
    if (!aor) return;
    const to = req.to;
    if (!to || aorOf(to.uri) !== aor) return void tx.respond(403, 'Forbidden', { headers: [['Warning', `399 ${this.config.advertisedHost} "may only register your own address"`]] });
    const defaultExpires = Number(req.get('expires') ?? 3600);
    const contacts = req.getAll('contact');
    if (contacts.length === 1 && contacts[0].trim() === '*') {
      await this.users.unbind(aor);
    } else {
      for (const c of req.contacts) {
        const expires = Math.min(Number(c.params.expires ?? defaultExpires), 86400);
        if (!Number.isFinite(expires)) return void tx.respond(400, 'Invalid Expires');
        if (expires === 0) await this.users.unbind(aor, c.uriText);
        else
          await this.users.bind(aor, {
            contact: c.uriText,
            expiresAt: Date.now() + expires * 1000,
            flowId: tx.flow.id,
            transport: tx.flow.transport,
            address: tx.flow.remoteAddress,
            port: tx.flow.remotePort,
          });
      }
    }
    const live = await this.users.bindings(aor);
    tx.respond(200, 'OK', {
      headers: [...live.map((b) => ['Contact', `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - Date.now()) / 1000))}`] as [string, string]), ['Date', new Date().toUTCString()]],
    });
    if (live.length) void this.notifyWaiting(aor);
  }

  // ---------------------------------------------------------------- MESSAGE deposit (RFC 3428)

  private async onMessage(tx: ServerTx): Promise<void> {
    const req = tx.request;
    const target = parseUri(req.uri);
    if (!target || target.host !== this.config.domain || !target.user) return void tx.respond(404, 'Not Found', { headers: [['Warning', `399 ${this.config.advertisedHost} "not a user of ${this.config.domain}"`]] });
    // the recipient passes the same subscriber check as every other interface (a 10 KB user is no mailbox)
    const recipient = checkSubscriber('Request-URI', aorOf(target), { schemes: ['sip', 'sips'], domain: this.config.domain });
    if (!recipient.ok) return void tx.respond(404, 'Not Found', { headers: [['Warning', `399 ${this.config.advertisedHost} "${recipient.problem}"`]] });
    const aor = recipient.value;
    if (req.get('max-forwards')?.trim() === '0') return void tx.respond(483, 'Too Many Hops');
    if (req.body.length > this.config.maxMessageBytes) return void tx.respond(513, 'Message Too Large');
    if (!req.contentType || req.body.length === 0) return void tx.respond(415, 'Unsupported Media Type', { headers: [['Accept', '*/*']] });
    const sender = await this.authenticate(tx, this.config.depositAuth);
    if (!sender) return;
    if (this.config.depositAuth === 'digest' && !(await this.users.exists(aor))) return void tx.respond(404, 'Not Found', { headers: [['Warning', `399 ${this.config.advertisedHost} "no such user"`]] });

    // a registered recipient gets it now (RFC 3428 §7 proxy behaviour); a failed attempt is stored instead
    const bindings = await this.users.bindings(aor);
    for (const b of bindings) {
      const status = await this.forwardMessage(req, b, sender);
      if (status !== undefined && status >= 200 && status < 300) return void tx.respond(status, 'OK');
    }
    const ctRaw = req.get('content-type')!;
    const cpimId = req.contentType === 'message/cpim' ? /^imdn\.Message-ID:\s*(\S+)/im.exec(req.bodyText())?.[1] : undefined;
    const disposition = req.contentType === 'message/cpim' ? /^imdn\.Disposition-Notification:\s*(.+)$/im.exec(req.bodyText())?.[1]?.trim() : undefined;
    const stored = await this.store.deposit(aor, {
      from: sender,
      to: aor,
      contentType: ctRaw,
      body: req.body,
      imdnMessageId: cpimId,
      disposition,
    });
    if (!stored.ok) return void tx.respond(stored.status, stored.status === 486 ? 'Busy Here' : 'Message Too Large', { headers: [['Warning', `399 ${this.config.advertisedHost} "${stored.reason}"`]] });
    this.metrics.deposited();
    tx.respond(202, 'Accepted');
    void this.notifyWaiting(aor);
  }

  /** Relays a MESSAGE to a registered contact over the flow it registered on; undefined when unreachable. */
  private async forwardMessage(req: SipRequest, b: { contact: string; flowId: string; address: string; port: number; transport: string }, sender: string): Promise<number | undefined> {
    const flow = await this.flowFor(b);
    if (!flow) return undefined;
    const fwd = new SipRequest('MESSAGE', b.contact);
    const via = this.viaFor(flow);
    fwd.add('Via', `SIP/2.0/${via.transport} ${via.host}:${via.port};branch=${MAGIC_COOKIE}${randomToken(this.random, BRANCH_BITS)};rport`);
    fwd.add('Max-Forwards', '70');
    fwd.add('From', `<${sender}>;tag=${randomToken(this.random)}`);
    fwd.add('To', req.get('to')!);
    fwd.add('Call-ID', `${randomToken(this.random, CALL_ID_BITS)}@${this.config.advertisedHost}`);
    fwd.add('CSeq', '1 MESSAGE');
    fwd.add('Content-Type', req.get('content-type')!);
    fwd.body = req.body;
    const out = await this.layer.sendRequest(fwd, this.sinkFor(flow)).done;
    return out.kind === 'response' ? out.response.status : undefined;
  }

  private async flowFor(b: { flowId: string; address: string; port: number; transport: string }): Promise<SipFlow | undefined> {
    const f = this.flows.get(b.flowId);
    if (f && f.open) return f;
    if (b.transport === 'UDP' && this.udp) return this.udp.flowTo(b.address, b.port);
    return undefined;
  }

  // ---------------------------------------------------------------- SUBSCRIBE / NOTIFY message-summary (RFC 3842)

  private async onSubscribe(tx: ServerTx): Promise<void> {
    const req = tx.request;
    if ((req.get('event') ?? '').split(';')[0].trim().toLowerCase() !== 'message-summary')
      return void tx.respond(489, 'Bad Event', { headers: [['Allow-Events', 'message-summary']] });
    const aor = await this.authenticate(tx);
    if (!aor) return;
    // an in-dialog SUBSCRIBE (refresh or unsubscribe, RFC 6665 §4.1.2) is addressed to our Contact, not the AOR
    const inDialog = req.to?.params.tag ? (this.subscriptions.get(aor) ?? []).find((x) => x.dialog.matches(req)) : undefined;
    const target = parseUri(req.uri);
    if (!inDialog && (!target || aorOf(target) !== aor))
      return void tx.respond(403, 'Forbidden', { headers: [['Warning', `399 ${this.config.advertisedHost} "may only watch your own mailbox"`]] });
    const expires = Math.min(Number(req.get('expires') ?? 3600), 86400);
    const localTag = req.to?.params.tag ?? randomToken(this.random);
    const dialog = inDialog?.dialog ?? Dialog.fromInvite(req, localTag, this.random);
    if (!dialog) return void tx.respond(400, 'Missing From Tag');
    const sub: Subscription = { dialog, flow: tx.flow, expiresAt: Date.now() + expires * 1000, transport: tx.flow.transport };
    const list = (this.subscriptions.get(aor) ?? []).filter((x) => x !== inDialog && x.expiresAt > Date.now());
    if (expires > 0) list.push(sub);
    this.subscriptions.set(aor, list);
    tx.respond(200, 'OK', { toTag: localTag, headers: [['Expires', String(expires)], ['Contact', `<sip:${this.config.advertisedHost}:${this.viaFor(tx.flow).port};transport=${tx.flow.transport.toLowerCase()}>`]] });
    // RFC 6665 §4.2.1.2: a NOTIFY with the current state at once (terminated when this was an unsubscribe)
    void this.sendSummary(aor, sub, expires === 0);
  }

  /** NOTIFY every live subscription of a user with the current count. */
  async notifyWaiting(aor: string): Promise<void> {
    const subs = (this.subscriptions.get(aor) ?? []).filter((s) => s.expiresAt > Date.now() && s.flow.open);
    for (const s of subs) await this.sendSummary(aor, s, false);
  }

  private async sendSummary(aor: string, s: Subscription, terminated: boolean): Promise<void> {
    const waiting = await this.store.count(aor);
    const notify = s.dialog.createRequest('NOTIFY', this.viaFor(s.flow));
    notify.add('Event', 'message-summary');
    notify.add('Subscription-State', terminated ? 'terminated;reason=timeout' : `active;expires=${Math.max(0, Math.round((s.expiresAt - Date.now()) / 1000))}`);
    notify.add('Content-Type', 'application/simple-message-summary');
    notify.add('Contact', `<sip:${this.config.advertisedHost}:${this.viaFor(s.flow).port}>`);
    // RFC 3842 §5.2: Messages-Waiting, Message-Account, and a count per message-context-class (RFC 3458 text-message)
    notify.body = new TextEncoder().encode(`Messages-Waiting: ${waiting > 0 ? 'yes' : 'no'}\r\nMessage-Account: ${aor}\r\nText-Message: ${waiting}/0\r\n`);
    await this.layer.sendRequest(notify, this.sinkFor(s.flow)).done;
  }

  // ---------------------------------------------------------------- INVITE

  private async onInvite(tx: ServerTx): Promise<void> {
    const req = tx.request;
    // §17.2.1: send 100 Trying at once — identity, the store and charging take time
    tx.respond(100, 'Trying');
    if (req.to?.params.tag) return void tx.respond(488, 'Not Acceptable Here', { headers: [['Warning', `399 ${this.config.advertisedHost} "re-INVITE is not supported in a retrieval session"`]] });
    const target = parseUri(req.uri);
    if (!target || target.user !== this.config.deferredUser)
      return void tx.respond(404, 'Not Found', { headers: [['Warning', `399 ${this.config.advertisedHost} "only sip:${this.config.deferredUser}@${this.config.domain} takes INVITEs here"`]] });
    const aor = await this.authenticate(tx);
    if (!aor) return;
    if ((tx.tx as InviteServerTransaction).state !== InviteServerState.Proceeding) return; // cancelled meanwhile
    if (!this.retrieval) return void tx.respond(503, 'Service Unavailable', { headers: [['Retry-After', '5']] });
    await this.retrieval.onInvite(tx, aor);
  }

  /** Sends an in-dialog request (BYE) from a retrieval session through a client transaction. */
  async sendInDialog(dialog: Dialog, flow: SipFlow, method: string): Promise<number | 'timeout'> {
    return this.send(dialog.createRequest(method, this.viaFor(flow)), flow);
  }

  /** For the retrieval side: the invite transaction type guard. */
  static isInvite(t: ServerTx['tx']): t is InviteServerTransaction {
    return t instanceof InviteServerTransaction;
  }
}
