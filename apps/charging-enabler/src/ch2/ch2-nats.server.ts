/**
 * The CH-2 NATS transport: a Nest custom transport strategy (so the enabler stays a Nest microservice, handlers
 * registered with `addHandler`) that speaks the NestJS NATS envelope — request `{pattern, data, id}`, reply
 * `{err, response, isDisposed, id}` — without the per-message RxJS pipeline of the stock `ServerNats`: CH-2 handlers
 * return promises, and this is the enabler's hot path. Subscriptions join the queue group so replicas share load.
 *
 * Shutdown: `close()` drains the subscriptions (no new requests are taken, the ones delivered are finished and
 * answered), then waits for the handlers still running, up to the grace period, then closes the connection.
 */
import { CustomTransportStrategy, MessageHandler, Server } from '@nestjs/microservices';
import { connect, Msg, NatsConnection, Subscription } from 'nats';
import type { NatsConnectionOptions } from '@imc/runtime';
import { JsonText } from './json-text';

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface Ch2NatsServerOptions {
  connection: NatsConnectionOptions;
  queue: string;
  name: string;
  graceMs: number;
}

export class Ch2NatsServer extends Server implements CustomTransportStrategy {
  private nc?: NatsConnection;
  private subs: Subscription[] = [];
  private inFlight = 0;

  constructor(private readonly opts: Ch2NatsServerOptions) {
    super();
  }

  async listen(callback: (err?: unknown) => void): Promise<void> {
    try {
      this.nc = await connect({ ...this.opts.connection, name: this.opts.name, maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true });
      for (const [subject, handler] of this.messageHandlers) {
        this.subs.push(this.nc.subscribe(subject, { queue: this.opts.queue, callback: (err, msg) => !err && this.onMessage(handler, msg) }));
      }
      callback();
    } catch (e) {
      callback(e);
    }
  }

  private async onMessage(handler: MessageHandler, msg: Msg): Promise<void> {
    let id: string | undefined;
    let data: unknown;
    try {
      const env = JSON.parse(dec.decode(msg.data)) as { id?: string; data?: unknown };
      id = env.id;
      data = env.data;
    } catch {
      data = undefined; // not JSON: the handler answers INVALID_REQUEST naming the payload
    }
    this.inFlight++;
    try {
      const response: unknown = await handler(data);
      if (msg.reply) {
        const body = response instanceof JsonText ? response.json : (JSON.stringify(response) ?? 'null');
        msg.respond(enc.encode(`{"err":null,"response":${body},"isDisposed":true,"id":${id === undefined ? 'null' : JSON.stringify(id)}}`));
      }
    } catch (e) {
      if (msg.reply) msg.respond(enc.encode(JSON.stringify({ err: String((e as Error).message ?? e), isDisposed: true, id })));
    } finally {
      this.inFlight--;
    }
  }

  isConnected(): boolean {
    return !!this.nc && !this.nc.isClosed();
  }

  async close(): Promise<void> {
    if (!this.nc) return;
    await Promise.all(this.subs.map((s) => s.drain().catch(() => undefined)));
    const deadline = Date.now() + this.opts.graceMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await this.nc.close();
    this.nc = undefined;
  }

  on(): never {
    throw new Error('Ch2NatsServer does not emit events');
  }

  unwrap<T>(): T {
    return this.nc as T;
  }
}
