/**
 * The CDR stream lacks CDRs it had acknowledged (a NATS crash before its files were synced, an operator's mistake):
 * the relay notices a stream that went backwards and re-publishes from the Redis outbox, and the operator's
 * `POST /v1/cdrs/republish` gives back what is missing since a time — each CDR once (the stream's ids are checked,
 * not only its duplicate window).
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from 'nats';
import type { Ch2Client } from '@imc/ch2';
import type { RunningEnabler } from '../../apps/charging-enabler/src/bootstrap';
import { JetStreamCdrSource } from '../../apps/charging-enabler/src/reports/jetstream-cdr-source';
import { admin, ch2ClientFor, common, Namespace, startEnabler, subscriber, testNamespace, waitFor } from '../support/enabler-harness';

describe('CDR recovery from the Redis outbox', () => {
  let ns: Namespace;
  let e: RunningEnabler;
  let nc: NatsConnection;
  let ch2: Ch2Client;
  let sub: string;

  beforeAll(async () => {
    // a duplicate window far shorter than the gaps: only the id check keeps a re-publish from doubling a CDR
    ns = testNamespace({ CDR_DUPLICATE_WINDOW_SECONDS: '1', LOG_LEVEL: process.env.IMC_TEST_LOG ?? 'silent' });
    e = await startEnabler(ns);
    ({ nc, ch2 } = await ch2ClientFor(ns));
    sub = subscriber('recov');
    expect((await admin(e.httpPort, 'POST', '/v1/accounts', { subscriber: sub, balance: 100000, currency: 'EUR' })).status).toBe(201);
  });
  afterAll(async () => {
    await nc?.close();
    await e?.close();
  });

  const streamIds = async () => {
    const ids: string[] = [];
    for await (const c of new JetStreamCdrSource(nc, ns.env.CDR_STREAM, ns.env.NATS_SUBJECT_PREFIX).all()) ids.push(c.cdrId);
    return ids;
  };
  const outboxIds = async () => (await e.cdrs.list({ limit: 1000 })).cdrs.map((c) => c.cdrId);
  const debits = async (n: number) => {
    for (let i = 0; i < n; i++) expect((await ch2.directDebit({ ...common(sub), items: [{ id: randomUUID(), octets: 10 }] })).result).toBe('SUCCESS');
  };
  const allInStream = () =>
    waitFor(async () => {
      const [ids, want] = await Promise.all([streamIds(), outboxIds()]);
      return want.length > 0 && want.every((id) => ids.includes(id)) ? ids : undefined;
    }, 'every outbox CDR on the stream', 15000, 50);

  it('POST /v1/cdrs/republish gives back the CDRs missing since a time, once', async () => {
    const t0 = Date.now();
    await debits(8);
    const before = await allInStream();
    expect(before).toHaveLength(8);
    // three CDRs vanish from the stream
    const jsm = await nc.jetstreamManager();
    for (const seq of [2, 5, 7]) expect(await jsm.streams.deleteMessage(ns.env.CDR_STREAM, seq)).toBe(true);
    expect(await streamIds()).toHaveLength(5);

    const bad = await admin(e.httpPort, 'POST', '/v1/cdrs/republish', {});
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/from/);
    // a CDR deleted inside the stream's duplicate window (1 s here) is refused as a duplicate and counted so: the
    // command is run until the stream has them all, and stores each of the three exactly once
    let republished = 0;
    await waitFor(async () => {
      const r = await admin(e.httpPort, 'POST', '/v1/cdrs/republish', { from: new Date(t0).toISOString() });
      expect(r.status).toBe(200);
      expect(r.json.checked).toBe(8);
      expect(r.json.republished + r.json.duplicates).toBe(3 - republished);
      republished += r.json.republished;
      return republished === 3;
    }, 'the three CDRs back on the stream', 15000, 200);
    const after = await streamIds();
    expect(after.sort()).toEqual(before.sort());
    // again: nothing is missing, nothing is published
    expect((await admin(e.httpPort, 'POST', '/v1/cdrs/republish', { from: t0 })).json).toMatchObject({ checked: 8, republished: 0, duplicates: 0 });
    expect(await streamIds()).toHaveLength(8);
  });

  it('the relay re-publishes the whole outbox to a stream that was lost and re-created', async () => {
    await debits(2);
    const had = (await allInStream()).length;
    const jsm = await nc.jetstreamManager();
    expect(await jsm.streams.delete(ns.env.CDR_STREAM)).toBe(true);
    // the next CDR finds no stream: the relay re-creates it, sees that it is not the stream it relayed to, and
    // compares the whole outbox with it
    await debits(1);
    const ids = await allInStream();
    const want = await outboxIds();
    expect(want).toHaveLength(had + 1);
    expect(ids.sort()).toEqual(want.sort());
  });
});
