/**
 * CDR relay: the Redis outbox reaches JetStream with Nats-Msg-Id = cdrId; a NATS restart in the middle loses
 * nothing and duplicates nothing (ch2-contract.md "Events", ARCHITECTURE.md "No dual writes").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { connect, consumerOpts, JsMsg, NatsConnection } from 'nats';
import { freePort, startNats, LocalService } from '@imc/runtime';
import type { RunningEnabler } from '../../apps/charging-enabler/src/bootstrap';
import { admin, common, startEnabler, subscriber, testNamespace, waitFor } from '../support/enabler-harness';
import { Ch2Client } from '@imc/ch2';

describe('CDR relay to JetStream', () => {
  let nats: LocalService;
  let port: number;
  let dir: string;
  let enabler: RunningEnabler;

  beforeAll(async () => {
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'imc-relay-'));
    nats = await startNats(port, dir);
  });
  afterAll(async () => {
    await enabler?.close();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function streamMessages(nc: NatsConnection, stream: string, filter: string): Promise<{ msgId: string; type: string }[]> {
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(stream);
    const out: { msgId: string; type: string }[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      if (!m.subject.startsWith(filter)) continue;
      out.push({ msgId: m.header.get('Nats-Msg-Id'), type: m.subject.split('.').pop()! });
    }
    return out;
  }

  it('publishes every CDR once across a NATS restart', async () => {
    const ns = testNamespace({ NATS_URL: nats.url });
    enabler = await startEnabler(ns);
    const sub = subscriber();
    await admin(enabler.httpPort, 'POST', '/v1/accounts', { subscriber: sub, balance: 10000, currency: 'EUR' });
    const client = async () => {
      const nc = await connect({ servers: nats.url });
      return { nc, ch2: new Ch2Client(nc, { subjectPrefix: ns.env.NATS_SUBJECT_PREFIX }) };
    };
    let c = await client();
    for (let i = 0; i < 5; i++) await c.ch2.directDebit({ ...common(sub), items: [{ id: `a${i}`, octets: 10 }] });
    await waitFor(async () => (await streamMessages(c.nc, ns.env.CDR_STREAM, `${ns.env.NATS_SUBJECT_PREFIX}ch2.cdr.`)).length === 5, '5 CDRs in JetStream');
    await c.nc.close();

    // NATS goes away; charging through Redis goes on (top-ups via HTTP) and CDRs pile up in the outbox.
    await nats.stop();
    for (let i = 0; i < 7; i++)
      expect((await admin(enabler.httpPort, 'POST', `/v1/accounts/${encodeURIComponent(sub)}/top-ups`, { amount: 1, requestId: randomUUID() })).status).toBe(201);
    nats = await startNats(port, dir);

    c = await client();
    const msgs = await waitFor(async () => {
      const m = await streamMessages(c.nc, ns.env.CDR_STREAM, `${ns.env.NATS_SUBJECT_PREFIX}ch2.cdr.`);
      return m.length >= 12 ? m : undefined;
    }, 'the backlog relayed after NATS came back', 15000, 100);
    const outbox = (await enabler.cdrs.list({ subscriber: sub, limit: 1000 })).cdrs;
    expect(outbox).toHaveLength(12);
    expect(new Set(msgs.map((m) => m.msgId)).size).toBe(msgs.length);
    expect(msgs.map((m) => m.msgId).sort()).toEqual(outbox.map((c) => c.cdrId).sort());
    expect(msgs.filter((m) => m.type === 'top-up')).toHaveLength(7);
    // a consumer sees the CDR body
    const js = c.nc.jetstream();
    const opts = consumerOpts().deliverAll().orderedConsumer();
    const sub2 = await js.subscribe(`${ns.env.NATS_SUBJECT_PREFIX}ch2.cdr.direct-debit`, opts);
    const first: JsMsg = await new Promise((resolve) => (async () => { for await (const m of sub2) return resolve(m); })());
    expect(JSON.parse(new TextDecoder().decode(first.data))).toMatchObject({ type: 'direct-debit', subscriber: sub, amount: 12, currency: 'EUR' }); // 10 + 1 started KiB × 2
    sub2.unsubscribe();
    await c.nc.close();
  });
});
