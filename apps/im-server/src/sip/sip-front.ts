/**
 * The SIP front of the im-server: the UDP, TCP, WebSocket (and TLS, WSS) listeners, parsing, the answers given
 * without a transaction (400 naming what is malformed, RFC 3261 §21.4.1; 503 + Retry-After when the transaction
 * layer is full, §21.5.4), the transaction layer, and the registry of the connections registered users are reached
 * over. Every new server transaction goes to the router it was started with (`sip-router.ts`), which applies the
 * checks common to all requests and hands it to one handler per concern (`handlers/`). It implements the port the
 * handlers and the retrieval sessions use (`sip-port.ts`). Answers and limits: docs/protocol-notes.md §4.
 */
import {
  createResponse,
  parseSipMessage,
  serializeSipMessage,
  SipRequest,
  SipResponse,
  stampVia,
  systemClock,
  TransactionLayer,
  TransactionSink,
  Clock,
  Dialog,
  RandomSource,
  InviteServerTransaction,
} from '@imc/sip';
import { SipFlow, TcpSipTransport, UdpSipTransport, WsSipTransport, SipTransport } from '@imc/sip-node';
import { nodeRandom } from '@imc/msrp-node';
import type { ImServerConfig } from '../config';
import type { ImMetrics } from '../observability/im-metrics';
import type { ServerTx } from './sip-context';
import { withBody, type ContactFlow, type InDialogBody, type SipFrontLookups, type SipFrontPort } from './sip-port';
import { methodLabel, type SipRequestRouter } from './sip-router';

export interface SipLogger {
  log(m: string): void;
  warn(m: string): void;
  error(m: string): void;
}

export class SipFront implements SipFrontPort, SipFrontLookups {
  readonly layer: TransactionLayer;
  private readonly transports: SipTransport[] = [];
  udp?: UdpSipTransport;
  tcp?: TcpSipTransport;
  ws?: WsSipTransport;
  tls?: TcpSipTransport;
  wss?: WsSipTransport;
  private readonly flows = new Map<string, SipFlow>();
  private router?: SipRequestRouter;

  constructor(
    readonly config: ImServerConfig,
    private readonly metrics: ImMetrics,
    private readonly logger: SipLogger,
    readonly clock: Clock = systemClock,
    /** Tags, branches and Call-IDs (RFC 3261 §19.3): node:crypto unless a test injects another source. */
    readonly random: RandomSource = nodeRandom,
  ) {
    this.layer = new TransactionLayer(clock, { T1: config.sipT1, T2: config.sipT2, T4: config.sipT4 }, { maxServerTransactions: config.sipMaxTransactions });
  }

  /** Listeners on the configured ports (a port of 0 turns that transport off, docs/operations.md); requests go to `router`. */
  async start(router: SipRequestRouter): Promise<void> {
    this.router = router;
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

  /** Stops taking new work (INVITE, MESSAGE, SUBSCRIBE get 503) — in-flight dialogs go on until closed. */
  drain(): void {
    this.router?.drain();
  }

  async close(): Promise<void> {
    this.router?.close();
    await Promise.all(this.transports.map((t) => t.close()));
  }

  get ports() {
    return { udp: this.udp?.port ?? 0, tcp: this.tcp?.port ?? 0, ws: this.ws?.port ?? 0, tls: this.tls?.port ?? 0, wss: this.wss?.port ?? 0 };
  }

  /** Sizes of the maps a peer can grow (bounded; test/sip/memory-flood.test.ts reads them). */
  get mapSizes(): { flows: number; merged: number; subscriptions: number; transactions: number } {
    return { merged: 0, subscriptions: 0, ...this.router?.sizes(), flows: this.flows.size, transactions: this.layer.size.server + this.layer.size.client };
  }

  // ---------------------------------------------------------------- the port (sip-port.ts)

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

  async sendInDialog(dialog: Dialog, flow: SipFlow, method: string, body?: InDialogBody): Promise<number | 'timeout'> {
    return this.send(withBody(dialog.createRequest(method, this.viaFor(flow)), body), flow);
  }

  async flowTo(b: ContactFlow): Promise<SipFlow | undefined> {
    const f = this.flows.get(b.flowId);
    if (f && f.open) return f;
    if (b.transport === 'UDP' && this.udp) return this.udp.flowTo(b.address, b.port);
    return undefined;
  }

  inviteFor(cancel: SipRequest): InviteServerTransaction | undefined {
    return this.layer.findInviteFor(cancel);
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
        // §21.5.4 / docs/protocol-notes.md §4: overload → 503 + Retry-After, answered statelessly
        this.metrics.sipRequest(methodLabel(msg.method), 503);
        if (msg.method !== 'ACK') this.sendResponse(flow, createResponse(msg, 503, 'Service Unavailable', { headers: [['Retry-After', '5']] }));
        return;
      case 'ack':
        if (!this.router?.onAck(msg)) this.metrics.sipRequest('ACK', 0);
        return;
      case 'new-invite':
      case 'new': {
        const tx = this.serverTx(verdict.tx, flow, sink);
        (this.router?.route(tx) ?? Promise.reject(new Error('the SIP front was not started with a router'))).catch((e: Error) => {
          this.logger.error(`${msg.method} ${msg.callId}: ${e.stack ?? e.message}`);
          if (tx.tx.state === 'Trying' || tx.tx.state === 'Proceeding') tx.respond(500, 'Server Internal Error');
        });
        return;
      }
    }
  }

  /** The handle a handler answers a server transaction through; every final answer is counted by method and status. */
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
        if (status >= 200) metrics.sipRequest(methodLabel(req.method), status);
        t.respond(res);
        return res;
      },
    };
  }

  /** Responses outside a transaction (malformed requests) go back on the flow they came from (RFC 3581 §4). */
  private sendResponse(flow: SipFlow, res: SipResponse): void {
    flow.send(serializeSipMessage(res));
  }
}
