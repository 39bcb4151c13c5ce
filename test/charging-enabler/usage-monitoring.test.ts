/**
 * Usage monitoring (docs/windows-and-usage.md "Usage monitoring"; TS 29.212 §4.5.16 in charging terms): monitoring
 * keys set through the admin API, usage accumulated inside the charging scripts, one report per crossing carrying
 * every measure on `ch2.usage.report`, re-arming, `ch2.usage` on demand, the monitoring time split, and exactness
 * with many concurrent debits on two enabler replicas sharing one ledger.
 */
import { randomUUID } from 'node:crypto';
import { UsageReport, usageReportSubject } from '@imc/ch2';
import { JetStreamCdrSource } from '../../apps/charging-enabler/src/reports/jetstream-cdr-source';
import { admin, common, startTwoReplicas, subscriber, TwoReplicas, waitFor } from '../support/enabler-harness';

describe('usage monitoring', () => {
  let t: TwoReplicas; // two replicas, one queue group, one ledger
  beforeAll(async () => {
    t = await startTwoReplicas();
  });
  afterAll(() => t.close());

  const path = (sub: string, rest = '') => `/v1/accounts/${encodeURIComponent(sub)}${rest}`;

  async function account(balance = 1_000_000) {
    const sub = subscriber('usage');
    expect((await admin(t.a.httpPort, 'POST', '/v1/accounts', { subscriber: sub, balance, currency: 'EUR' })).status).toBe(201);
    return sub;
  }

  async function setKey(sub: string, key: string, body: Record<string, unknown>) {
    const r = await admin(t.a.httpPort, 'PUT', path(sub, `/monitoring-keys/${key}`), body);
    expect(r.status).toBe(200);
    return r.json;
  }

  /** The usage reports the ledger wrote for `sub` (the outbox, written in the same script as the charge). */
  async function outboxReports(sub: string): Promise<UsageReport[]> {
    const page = await t.a.cdrs.list({ subscriber: sub, limit: 1000 });
    return page.cdrs.filter((c) => (c.type as string) === 'usage-report') as unknown as UsageReport[];
  }

  /** The usage reports on JetStream (`t.ch2.usage.report`) for `sub`. */
  async function streamReports(sub: string): Promise<UsageReport[]> {
    const source = new JetStreamCdrSource(t.nc, t.ns.env.CDR_STREAM, t.ns.env.NATS_SUBJECT_PREFIX);
    const out: UsageReport[] = [];
    for await (const { cdr } of source.entries(undefined, undefined, usageReportSubject(t.ns.env.NATS_SUBJECT_PREFIX)))
      if (cdr.subscriber === sub) out.push(cdr as unknown as UsageReport);
    return out;
  }

  /** Waits for the stream to hold the reports of the outbox, and checks it holds each exactly once. */
  async function relayed(sub: string): Promise<UsageReport[]> {
    const ids = (await outboxReports(sub)).map((r) => r.cdrId).sort();
    let seen: UsageReport[] = [];
    await waitFor(async () => (seen = await streamReports(sub)).length >= ids.length, `${ids.length} usage reports on JetStream`);
    expect(seen.map((r) => r.cdrId).sort()).toEqual(ids);
    return seen;
  }

  const dd = (sub: string, octets: number, service = 'im.test', timestamp = new Date().toISOString()) =>
    t.ch2.directDebit({ ...common(sub, service), timestamp, items: [{ id: randomUUID(), octets }] });

  const usage = (sub: string, extra: Record<string, unknown> = {}) => t.ch2.usage({ ...common(sub), ...extra });

  it('the crossing of one threshold reports once, with the usage since the last report of every measure of the key', async () => {
    const sub = await account();
    await setKey(sub, 'volume', { service: 'im.test', thresholds: { octets: 1000, count: 10 } });
    await setKey(sub, 'all', { service: '*', thresholds: { count: 100 } });
    await setKey(sub, 'other', { service: 'im.windowed', thresholds: { count: 1 } });
    const r = await t.ch2.reserve({ ...common(sub), items: [1, 2, 3, 4, 5].map((i) => ({ id: `m${i}`, octets: 300 })) });
    for (let i = 1; i <= 5; i++) {
      const d = await t.ch2.debit({ ...common(sub), reservationId: r.reservationId!, itemId: `m${i}`, outcome: 'delivered', octets: 300 });
      expect(d.result).toBe('SUCCESS');
    }
    const reports = await relayed(sub);
    expect(reports).toHaveLength(1); // the fourth debit reached 1200 ≥ 1000 octets; the fifth started the next cycle
    expect(reports[0]).toMatchObject({
      type: 'usage-report',
      subscriber: sub,
      service: 'im.test',
      monitoringKey: 'volume',
      trigger: 'threshold',
      reached: 'octets',
      usage: { count: 4, octets: 1200, sessionMs: 0 },
    });
    const u = await usage(sub);
    expect(u.result).toBe('SUCCESS');
    expect(u.monitoringKeys!.volume).toMatchObject({ count: 1, octets: 300, thresholds: { octets: 1000, count: 10 } });
    expect(u.monitoringKeys!.all).toMatchObject({ service: '*', count: 5, octets: 1500 });
    expect(u.monitoringKeys!.other).toMatchObject({ count: 0, octets: 0 });
  });

  it('ch2.debits counts each of its items as its own debit would: the same single report at the same crossing', async () => {
    const sub = await account();
    await setKey(sub, 'volume', { service: 'im.test', thresholds: { octets: 1000, count: 10 } });
    await setKey(sub, 'all', { service: '*', thresholds: { count: 100 } });
    const r = await t.ch2.reserve({ ...common(sub), items: [1, 2, 3, 4, 5].map((i) => ({ id: `m${i}`, octets: 300 })) });
    const items = [1, 2, 3, 4, 5].map((i) => ({ requestId: `dbt:${randomUUID()}`, itemId: `m${i}`, outcome: 'delivered' as const, octets: 300 }));
    const d = await t.ch2.debits({ ...common(sub), reservationId: r.reservationId!, items });
    expect(d.items!.map((x) => x.result)).toEqual(Array(5).fill('SUCCESS'));
    const reports = await relayed(sub);
    expect(reports).toHaveLength(1); // the fourth item reached 1200 ≥ 1000 octets; the fifth started the next cycle
    expect(reports[0]).toMatchObject({ monitoringKey: 'volume', trigger: 'threshold', reached: 'octets', usage: { count: 4, octets: 1200, sessionMs: 0 } });
    const u = await usage(sub);
    expect(u.monitoringKeys!.volume).toMatchObject({ count: 1, octets: 300 });
    expect(u.monitoringKeys!.all).toMatchObject({ count: 5, octets: 1500 });
  });

  it('a report re-arms the key with its configured thresholds, or with those given when the report is acknowledged', async () => {
    const sub = await account();
    await setKey(sub, 'k', { service: 'im.test', thresholds: { count: 3 } });
    for (let i = 0; i < 7; i++) expect((await dd(sub, 10)).result).toBe('SUCCESS');
    expect((await outboxReports(sub)).map((r) => r.usage.count)).toEqual([3, 3]); // 3, 3, and 1 since
    // the acknowledgement: the cycle in progress (1 so far) now reports at 2
    const ack = await usage(sub, { monitoringKey: 'k', rearm: { count: 2 } });
    expect(ack.monitoringKeys!.k).toMatchObject({ count: 1 });
    expect((await usage(sub)).monitoringKeys!.k.thresholds).toEqual({ count: 2 });
    await dd(sub, 10);
    expect((await outboxReports(sub)).map((r) => r.usage.count)).toEqual([3, 3, 2]);
    // and the next cycle is armed with the configured threshold again
    expect((await usage(sub)).monitoringKeys!.k.thresholds).toEqual({ count: 3 });
    await dd(sub, 10);
    await dd(sub, 10);
    expect(await outboxReports(sub)).toHaveLength(3);
    await dd(sub, 10);
    const reports = await relayed(sub);
    expect(reports.map((r) => r.usage.count).sort()).toEqual([2, 3, 3, 3]);
  });

  it('ch2.usage and GET /usage report the usage since the last report, and reset it only when asked', async () => {
    const sub = await account();
    await setKey(sub, 'k', { service: 'im.test', thresholds: { octets: 1_000_000 } });
    await dd(sub, 100);
    await dd(sub, 250);
    const read1 = await usage(sub, { monitoringKey: 'k' });
    expect(read1.monitoringKeys!.k).toMatchObject({ count: 2, octets: 350, sessionMs: 0 });
    expect(read1.monitoringKeys!.k.reportId).toBeUndefined();
    const http = await admin(t.b.httpPort, 'GET', path(sub, '/usage'));
    expect(http.status).toBe(200);
    expect(http.json.monitoringKeys.k).toMatchObject({ count: 2, octets: 350 });
    expect(await outboxReports(sub)).toHaveLength(0); // reading reported nothing
    const reset = { ...common(sub), monitoringKey: 'k', reset: true };
    const r = await t.ch2.usage(reset);
    expect(r.monitoringKeys!.k).toMatchObject({ count: 2, octets: 350 });
    expect(r.monitoringKeys!.k.reportId).toEqual(expect.any(String));
    expect(await t.ch2.usage(reset)).toEqual(r); // a replay is answered from the first, and resets nothing more
    expect((await usage(sub)).monitoringKeys!.k).toMatchObject({ count: 0, octets: 0 });
    await dd(sub, 5);
    const post = await admin(t.a.httpPort, 'POST', path(sub, '/usage'), { requestId: randomUUID(), reset: true });
    expect(post.status).toBe(201);
    expect(post.json.monitoringKeys.k).toMatchObject({ count: 1, octets: 5 });
    const reports = await relayed(sub);
    expect(reports.map((x) => [x.trigger, x.usage.count, x.usage.octets]).sort()).toEqual([
      ['request', 1, 5],
      ['request', 2, 350],
    ]);
    expect(reports.find((x) => x.usage.count === 2)!.cdrId).toBe(r.monitoringKeys!.k.reportId);
  });

  it('usage before and after the monitoring time is reported separately; the later thresholds apply after it', async () => {
    const sub = await account();
    const mt = Date.parse('2026-12-05T22:00:00Z');
    const at = (ms: number) => new Date(mt + ms).toISOString();
    await setKey(sub, 'night', {
      service: 'im.test',
      thresholds: { count: 100 },
      monitoringTime: new Date(mt).toISOString(),
      afterThresholds: { count: 3, octets: 1_000_000 },
    });
    await dd(sub, 100, 'im.test', at(-60_000));
    await dd(sub, 100, 'im.test', at(-1));
    await dd(sub, 7, 'im.test', at(0));
    await dd(sub, 7, 'im.test', at(60_000));
    const mid = (await usage(sub)).monitoringKeys!.night;
    expect(mid).toMatchObject({ count: 4, octets: 214, before: { count: 2, octets: 200 }, after: { count: 2, octets: 14 } });
    await dd(sub, 7, 'im.test', at(120_000)); // the third after the time: the after-threshold (3) is reached
    const [report] = await relayed(sub);
    expect(report).toMatchObject({
      trigger: 'threshold',
      reached: 'count',
      usage: {
        count: 5,
        octets: 221,
        monitoringTime: new Date(mt).toISOString(),
        before: { count: 2, octets: 200, sessionMs: 0 },
        after: { count: 3, octets: 21, sessionMs: 0 },
      },
    });
    // the time has passed: the key keeps the later thresholds, without a split
    const key = (await admin(t.a.httpPort, 'GET', path(sub, '/monitoring-keys/night'))).json;
    expect(key).toMatchObject({ thresholds: { count: 3, octets: 1_000_000 } });
    expect(key.monitoringTime).toBeUndefined();
    expect((await usage(sub)).monitoringKeys!.night.before).toBeUndefined();
  });

  it('session time runs from the reserve to the release and is reported with the other measures', async () => {
    const sub = await account();
    await setKey(sub, 's', { service: 'im.test', thresholds: { sessionMs: 1 } });
    const started = Date.now();
    const r = await t.ch2.reserve({ ...common(sub), items: [{ id: 'x', octets: 40 }] });
    await t.ch2.debit({ ...common(sub), reservationId: r.reservationId!, itemId: 'x', outcome: 'delivered', octets: 40 });
    expect(await outboxReports(sub)).toHaveLength(0); // no session time yet
    await waitFor(() => Date.now() > started + 5, 'a few milliseconds of session');
    await t.ch2.release({ ...common(sub), reservationId: r.reservationId! });
    const elapsed = Date.now() - started;
    const [report] = await relayed(sub);
    expect(report).toMatchObject({ reached: 'sessionMs', usage: { count: 1, octets: 40 } });
    expect(report.usage.sessionMs).toBeGreaterThanOrEqual(1);
    expect(report.usage.sessionMs).toBeLessThanOrEqual(elapsed + 50); // Redis and the test share this machine's clock
  });

  it('an expired session counts its whole validity as session time', async () => {
    const sub = await account();
    await setKey(sub, 'e', { service: 'im.test', thresholds: { sessionMs: 1 } });
    const rq = { ...common(sub), items: [{ id: 'x', octets: 1 }], validitySeconds: 1 };
    const r = { ...(await t.ch2.reserve(rq)), requestId: rq.requestId };
    expect(r.result).toBe('SUCCESS');
    let reports: UsageReport[] = [];
    await waitFor(async () => (reports = await outboxReports(sub)).length > 0, 'the expiry to report the session', 10000);
    const [report] = reports;
    expect(report).toMatchObject({ trigger: 'threshold', reached: 'sessionMs', requestId: r.requestId, usage: { count: 0, octets: 0, sessionMs: 1000 } });
  });

  it('many concurrent debits through two replicas: exactly one report per crossing, with exact sums', async () => {
    const sub = await account();
    await setKey(sub, 'c', { service: '*', thresholds: { count: 100, octets: 1_000_000 } });
    const n = 250;
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => dd(sub, 10 + (i % 7))));
    expect(answers.every((x) => x.result === 'SUCCESS')).toBe(true);
    const octets = Array.from({ length: n }, (_, i) => 10 + (i % 7)).reduce((s, x) => s + x, 0);
    const reports = await relayed(sub);
    expect(reports).toHaveLength(2); // at 100 and at 200
    expect(reports.map((r) => r.usage.count)).toEqual([100, 100]);
    const rest = (await admin(t.b.httpPort, 'GET', path(sub, '/usage'))).json.monitoringKeys.c;
    expect(rest.count).toBe(50);
    expect(reports[0].usage.octets + reports[1].usage.octets + rest.octets).toBe(octets);
    expect(new Set(reports.map((r) => r.requestId)).size).toBe(2);
  });

  it('removing a key reports its usage since the last report; an account without keys keeps no monitoring flag', async () => {
    const sub = await account();
    await setKey(sub, 'gone', { service: 'im.test', thresholds: { count: 50 } });
    const acctKey = t.a.ledger.keys.account(sub);
    expect(await t.a.redis.hget(acctKey, 'mk')).toBe('1');
    await dd(sub, 30);
    const del = await admin(t.a.httpPort, 'DELETE', path(sub, '/monitoring-keys/gone'));
    expect(del.status).toBe(200);
    expect(del.json).toMatchObject({ removed: true, reportId: expect.any(String) });
    expect(await t.a.redis.hget(acctKey, 'mk')).toBeNull();
    expect((await admin(t.a.httpPort, 'DELETE', path(sub, '/monitoring-keys/gone'))).status).toBe(404);
    const [report] = await relayed(sub);
    expect(report).toMatchObject({ cdrId: del.json.reportId, trigger: 'removed', usage: { count: 1, octets: 30 } });
    await dd(sub, 30); // no keys: nothing accumulated, nothing reported
    expect(await outboxReports(sub)).toHaveLength(1);
    expect((await usage(sub)).monitoringKeys).toEqual({});
  });

  it("the relay's recovery reads the usage reports' subject: a report on the stream is never published again", async () => {
    const t0 = Date.now();
    const sub = await account();
    await setKey(sub, 'r', { service: 'im.test', thresholds: { count: 1 } });
    await dd(sub, 1);
    const [report] = await relayed(sub);
    const r = await admin(t.a.httpPort, 'POST', '/v1/cdrs/republish', { from: t0 });
    expect(r.status).toBe(200);
    expect(r.json.checked).toBeGreaterThanOrEqual(2); // the direct debit's CDR and the report
    expect(r.json).toMatchObject({ republished: 0, duplicates: 0 });
    expect((await streamReports(sub)).map((x) => x.cdrId)).toEqual([report.cdrId]);
    const listed = await admin(t.a.httpPort, 'GET', `/v1/cdrs?subscriber=${encodeURIComponent(sub)}&type=usage-report`);
    expect(listed.json.cdrs.map((c: { cdrId: string }) => c.cdrId)).toEqual([report.cdrId]);
  });

  it('bad input is refused naming the fields', async () => {
    const sub = await account();
    const bad = await admin(t.a.httpPort, 'PUT', path(sub, '/monitoring-keys/k'), {
      service: 'no spaces',
      thresholds: { count: 0, minutes: 3 },
      afterThresholds: { octets: 5 },
      extra: 1,
    });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^service:/),
        expect.stringMatching(/^thresholds\.count:/),
        expect.stringMatching(/^thresholds\.minutes:/),
        expect.stringMatching(/^afterThresholds:/),
        expect.stringMatching(/^extra:/),
      ]),
    );
    expect((await admin(t.a.httpPort, 'PUT', path(sub, '/monitoring-keys/bad key'), { service: '*' })).status).toBe(400);
    expect((await admin(t.a.httpPort, 'PUT', path(sub, '/monitoring-keys/k'), { service: '*', monitoringTime: 'soon' })).json.message).toEqual([
      expect.stringMatching(/^monitoringTime:/),
    ]);
    expect((await admin(t.a.httpPort, 'PUT', path(subscriber('nobody'), '/monitoring-keys/k'), { service: '*' })).status).toBe(404);
    const inv = await usage(sub, { reset: 'yes', rearm: { count: 0 } });
    expect(inv.result).toBe('INVALID_REQUEST');
    expect(inv.details).toEqual(
      expect.arrayContaining([expect.stringMatching(/^reset:/), expect.stringMatching(/^rearm\.count:/), expect.stringMatching(/^rearm: needs monitoringKey/)]),
    );
    const unknownKey = await usage(sub, { monitoringKey: 'nope' });
    expect(unknownKey).toMatchObject({ result: 'INVALID_REQUEST', details: [expect.stringMatching(/^monitoringKey:/)] });
    expect((await usage(subscriber('nobody'))).result).toBe('USER_UNKNOWN');
  });
});
