/**
 * NatsRequester against a real NATS server: replies reach the request that asked, whatever order they come back in;
 * a missing responder is reported as such (the server's 503 status), a silent one as a timeout; a reply that comes
 * after its timeout is dropped; headers travel with the request.
 */
import { randomBytes } from 'node:crypto';
import { connect, headers, NatsConnection } from 'nats';
import { NatsNoRespondersError, NatsRequester, NatsRequestTimeoutError } from '@imc/ch2';

const enc = new TextEncoder();
const dec = new TextDecoder();

describe('NatsRequester', () => {
  let server: NatsConnection;
  let client: NatsConnection;
  const ns = `req${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    server = await connect({ servers: process.env.NATS_URL });
    client = await connect({ servers: process.env.NATS_URL });
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it('matches 500 concurrent replies to their requests even when answered in reverse order', async () => {
    const held: { respond: () => void }[] = [];
    let release!: () => void;
    const allIn = new Promise<void>((r) => (release = r));
    server.subscribe(`${ns}.echo`, {
      callback: (_e, m) => {
        held.push({ respond: () => m.respond(enc.encode(`re:${dec.decode(m.data)}`)) });
        if (held.length === 500) release();
      },
    });
    await server.flush();
    const r = new NatsRequester(client);
    const calls = Array.from({ length: 500 }, (_, i) => r.request(`${ns}.echo`, enc.encode(String(i)), 5000));
    await allIn;
    for (const h of held.reverse()) h.respond();
    const replies = await Promise.all(calls);
    expect(replies.map((m) => dec.decode(m.data))).toEqual(Array.from({ length: 500 }, (_, i) => `re:${i}`));
    expect(r.inFlight).toBe(0);
  });

  it('reports no responders for a subject nobody serves, naming the subject', async () => {
    const r = new NatsRequester(client);
    const err = await r.request(`${ns}.nobody`, enc.encode('x'), 5000).catch((e: Error) => e);
    expect(err).toBeInstanceOf(NatsNoRespondersError);
    expect((err as NatsNoRespondersError).subject).toBe(`${ns}.nobody`);
    expect(r.inFlight).toBe(0);
  });

  it('times out on a silent responder and drops its late reply', async () => {
    let late!: () => void;
    const asked = new Promise<void>((res) => {
      server.subscribe(`${ns}.slow`, {
        callback: (_e, m) => {
          late = () => m.respond(enc.encode('late'));
          res();
        },
      });
    });
    await server.flush();
    const r = new NatsRequester(client);
    const t0 = performance.now();
    const err = await r.request(`${ns}.slow`, enc.encode('x'), 150).catch((e: Error) => e);
    expect(err).toBeInstanceOf(NatsRequestTimeoutError);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    await asked;
    late();
    await server.flush();
    // the late reply found no pending request; the next request still gets its own answer
    server.subscribe(`${ns}.ok`, { callback: (_e, m) => m.respond(enc.encode('ok')) });
    await server.flush();
    expect(dec.decode((await r.request(`${ns}.ok`, enc.encode('x'), 5000)).data)).toBe('ok');
    expect(r.inFlight).toBe(0);
  });

  it('sends headers with the request', async () => {
    server.subscribe(`${ns}.hdr`, { callback: (_e, m) => m.respond(enc.encode(m.headers?.get('Nats-Msg-Id') ?? 'none')) });
    await server.flush();
    const h = headers();
    h.set('Nats-Msg-Id', 'cdr-42');
    const m = await new NatsRequester(client).request(`${ns}.hdr`, enc.encode('x'), 5000, h);
    expect(dec.decode(m.data)).toBe('cdr-42');
  });
});
