/**
 * Background windows across replicas and restarts: two module instances on one Redis (as two im-servers), a shared
 * fake clock (no sleeps), real NATS for the events. Bookings never exceed a window's capacity whichever replica
 * takes which selection; each window's opportunity and error events are published once; a replica started after
 * a window opened publishes what fell due.
 */
import { randomBytes } from 'node:crypto';
import { createRedis, RedisClient } from '@imc/runtime';
import { connect, NatsConnection, Subscription } from 'nats';
import { TariffBook } from '@imc/ch2';
import { BdtStore } from '../../apps/im-server/src/windows/bdt-store';
import { BdtService } from '../../apps/im-server/src/windows/bdt.service';
import { BdtScheduler } from '../../apps/im-server/src/windows/bdt-scheduler';
import { BdtTagging } from '../../apps/im-server/src/windows/bdt-tagging';
import { BDT_SUBJECTS, BdtEvent, BdtOpportunityEvent, BdtResource } from '../../apps/im-server/src/windows/bdt-types';
import { waitFor } from '../support/enabler-harness';
import { deleteKeysWithPrefix } from '../support/redis-cleanup';

const HOUR = 3600000;
const T0 = Date.parse('2026-12-05T12:00:00Z');
// UTC tariff; the cheap window is 22:00–06:00
const tariff = TariffBook.fromObject({
  tariffs: {
    'im.deferred-retrieval': {
      currency: 'EUR',
      timeZone: 'UTC',
      pricePerMessage: 5,
      pricePerKiB: 1,
      windows: [{ name: 'night', from: '22:00', to: '06:00', pricePerMessage: 1, ratingGroup: 'bdt-night' }],
      ratingGroups: { 'bdt-night': { pricePerMessage: 0, pricePerKiB: 0 } },
    },
  },
}).get('im.deferred-retrieval')!;

interface Replica {
  service: BdtService;
  scheduler: BdtScheduler;
  tagging: BdtTagging;
  notified: string[];
}

describe('background windows across replicas', () => {
  const id = randomBytes(4).toString('hex');
  const prefix = `bdt${id}:`;
  const subjects = `bdt${id}.`;
  let redis: RedisClient;
  let nc: NatsConnection;
  let subs: Subscription[] = [];
  const published: { subject: string; event: BdtEvent }[] = [];
  const clock = { t: T0, now: () => clock.t };
  const tags = new Map<string, string>(); // message id → tag (the store's view, for the rating decision)

  const replica = (capacity = 100000): Replica => {
    const store = new BdtStore(redis, prefix);
    const notified: string[] = [];
    const scheduler = new BdtScheduler(
      store,
      (subject, event) => nc.publish(`${subjects}${subject}`, JSON.stringify(event)),
      (aor) => notified.push(aor),
      clock,
    );
    // as windows.ts wires it: every replica hears the opportunities and NOTIFYs its own subscriptions
    subs.push(nc.subscribe(`${subjects}${BDT_SUBJECTS.opportunity}`, { callback: (_e, m) => void scheduler.opportunityHeard(JSON.parse(m.string()) as BdtOpportunityEvent) }));
    const service = new BdtService(store, tariff, { defaultCapacity: capacity, maxWindowDays: 31 }, clock);
    const tagging = new BdtTagging(store, { tagsOf: async (_aor, ids) => ids.map((i) => tags.get(i)) }, clock);
    return { service, scheduler, tagging, notified };
  };

  const events = (kind: 'opportunity' | 'error', ref: string) => published.filter((p) => p.subject.endsWith(BDT_SUBJECTS[kind]) && p.event.bdtReferenceId === ref);
  /** Waits until NATS delivered every event published so far (a round trip through the server). */
  const settle = () => nc.flush();

  beforeAll(async () => {
    redis = createRedis(process.env.REDIS_URL!);
    nc = await connect({ servers: process.env.NATS_URL });
    for (const k of ['opportunity', 'error'] as const) {
      subs.push(nc.subscribe(`${subjects}${BDT_SUBJECTS[k]}`, { callback: (_e, m) => published.push({ subject: m.subject, event: JSON.parse(m.string()) }) }));
    }
    await nc.flush();
  });
  afterAll(async () => {
    for (const s of subs) s.unsubscribe();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    await nc.close();
  });
  beforeEach(() => {
    clock.t = T0;
  });

  const create = async (r: Replica, volume: number, users: number, from = T0 + 9 * HOUR, to = T0 + 19 * HOUR): Promise<BdtResource> => {
    const c = await r.service.create('bank', { volumePerUe: { totalVolume: volume }, numberOfUes: users, desiredTimeWindow: { startTime: new Date(from).toISOString(), stopTime: new Date(to).toISOString() } });
    if (!c.ok) throw new Error(JSON.stringify(c.problem));
    return c.value;
  };

  it('never over-books a window: 40 selections raced over two replicas, capacity for 7', async () => {
    const a = replica(7000);
    const b = replica(7000);
    // desired window over two nights: two candidates each, so nothing is selected at creation
    const offered = await Promise.all(Array.from({ length: 40 }, (_, i) => create(i % 2 ? a : b, 1000, 1, T0 + 9 * HOUR, T0 + 36 * HOUR)));
    expect(offered.every((r) => r.state === 'offered' && r.transferPolicies.length === 2)).toBe(true);
    const answers = await Promise.all(offered.map((r, i) => (i % 2 ? b : a).service.select('bank', r.bdtReferenceId, { selectedPolicy: 1 })));
    expect(answers.filter((x) => x.ok)).toHaveLength(7);
    expect(answers.filter((x) => !x.ok).every((x) => !x.ok && x.problem.status === 409 && /octets left/.test(x.problem.detail!))).toBe(true);
    const windowId = offered[0].transferPolicies[0].windowId;
    expect((await a.service.store.bookings([windowId]))[0].booked).toBe(7000);
    // a new negotiation no longer offers the full window
    const next = await create(a, 1000, 1, T0 + 9 * HOUR, T0 + 36 * HOUR);
    expect(next.transferPolicies.map((p) => p.windowId)).toEqual([offered[0].transferPolicies[1].windowId]);
    expect((await a.service.remove('bank', next.bdtReferenceId)).ok).toBe(true); // (the next night stays free for the test below)
  });

  it('publishes the opportunity once when the window opens, whichever replicas tick; each replica notifies the users holding tagged messages', async () => {
    const a = replica();
    const b = replica();
    const r = await create(a, 5000, 10); // one night in the desired window: selected at once
    expect(r.state).toBe('selected');
    expect(await a.tagging.checkTag(r.bdtReferenceId)).toBeUndefined();
    await a.tagging.tagged(r.bdtReferenceId, 'sip:bob@example.com');
    // before the window: nothing
    await Promise.all([a.scheduler.tick(), b.scheduler.tick()]);
    await settle();
    expect(events('opportunity', r.bdtReferenceId)).toHaveLength(0);
    clock.t = T0 + 10 * HOUR; // 22:00
    const n = await Promise.all([a.scheduler.tick(), b.scheduler.tick(), a.scheduler.tick(), b.scheduler.tick()]);
    await settle();
    expect(events('opportunity', r.bdtReferenceId)).toHaveLength(1);
    expect(events('opportunity', r.bdtReferenceId)[0].event).toEqual({
      event: 'BACKGROUND_DATA_TRANSFER_OPPORTUNITY',
      bdtReferenceId: r.bdtReferenceId,
      asId: 'bank',
      windowStart: '2026-12-05T22:00:00.000Z',
      windowEnd: '2026-12-06T06:00:00.000Z',
      volumeQuota: 5000,
      numberOfUes: 10,
      ratingGroup: 'bdt-night',
    });
    expect(n.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(1);
    // one event, heard by both replicas: each NOTIFYs the subscriptions it holds, once
    await waitFor(() => a.notified.length && b.notified.length, 'both replicas notified');
    await settle();
    expect([a.notified, b.notified]).toEqual([['sip:bob@example.com'], ['sip:bob@example.com']]);
  });

  it('DELETE during the window: one error event; DELETE before it: none, and no opportunity later', async () => {
    const a = replica();
    const b = replica();
    const during = await create(a, 1000, 1);
    const before = await create(b, 1000, 1);
    expect((await b.service.remove('bank', before.bdtReferenceId)).ok).toBe(true);
    clock.t = T0 + 11 * HOUR;
    await Promise.all([a.scheduler.tick(), b.scheduler.tick()]);
    expect((await b.service.remove('bank', during.bdtReferenceId)).ok).toBe(true);
    expect((await a.service.remove('bank', during.bdtReferenceId)).ok).toBe(false); // gone: 404, no second event
    await Promise.all([a.scheduler.tick(), b.scheduler.tick()]);
    await settle();
    expect(events('opportunity', during.bdtReferenceId)).toHaveLength(1);
    expect(events('error', during.bdtReferenceId).map((e) => e.event)).toEqual([expect.objectContaining({ reason: expect.stringMatching(/deleted/) })]);
    expect(events('opportunity', before.bdtReferenceId)).toHaveLength(0);
    expect(events('error', before.bdtReferenceId)).toHaveLength(0);
  });

  it('the operator withdrawing capacity cancels the latest bookings, each with one error event', async () => {
    const a = replica(10000);
    const b = replica(10000);
    // the next night (Dec 6), on which nothing else is booked
    const first = await create(a, 4000, 1, T0 + 33 * HOUR, T0 + 43 * HOUR);
    const second = await create(b, 4000, 1, T0 + 33 * HOUR, T0 + 43 * HOUR);
    const windowId = first.transferPolicies[0].windowId;
    expect(await b.service.setCapacity(windowId, 5000)).toEqual([second.bdtReferenceId]);
    await Promise.all([a.scheduler.tick(), b.scheduler.tick()]);
    await settle();
    expect(events('error', second.bdtReferenceId).map((e) => e.event)).toEqual([expect.objectContaining({ reason: expect.stringMatching(/withdrew/) })]);
    expect(events('error', first.bdtReferenceId)).toHaveLength(0);
    expect((await a.service.get('bank', second.bdtReferenceId)).ok && (await a.service.get('bank', second.bdtReferenceId))).toMatchObject({ value: { state: 'cancelled' } });
    expect(await a.tagging.checkTag(second.bdtReferenceId)).toMatch(/not a resource with a selected transfer policy/);
    expect((await a.service.store.bookings([windowId]))[0]).toEqual({ booked: 4000, capacity: 5000 });
  });

  it('survives a restart: a replica started after the window opened publishes the due opportunity once', async () => {
    const a = replica();
    const r = await create(a, 1000, 1);
    await a.scheduler.stop(); // "crash": nothing ticks while the window opens
    clock.t = T0 + 12 * HOUR;
    const restarted = replica();
    const other = replica();
    await Promise.all([restarted.scheduler.tick(), other.scheduler.tick()]);
    await settle();
    expect(events('opportunity', r.bdtReferenceId)).toHaveLength(1);
    expect((await restarted.service.get('bank', r.bdtReferenceId)).ok).toBe(true);
  });

  it('rates a tagged message at the rating group only inside the window and within the booking per user and users', async () => {
    const a = replica();
    const b = replica();
    const r = await create(a, 3000, 1); // 3000 octets for one user
    tags.set('m1', r.bdtReferenceId).set('m2', r.bdtReferenceId).set('m3', r.bdtReferenceId);
    const bob = 'sip:bob@example.com';
    const items = [{ id: 'm1', octets: 2000 }, { id: 'm2', octets: 2000 }, { id: 'x', octets: 10 }];
    expect(await a.tagging.decide(bob, items, new Date(T0 + 9 * HOUR))).toEqual([undefined, undefined, undefined]); // before 22:00
    const at = new Date(T0 + 11 * HOUR);
    const [da, db] = await Promise.all([a.tagging.decide(bob, items, at), b.tagging.decide(bob, items, at)]);
    // whichever replica counted first, m1 fits and m2 does not (2000 + 2000 > 3000), on both
    expect(da).toEqual(['bdt-night', undefined, undefined]);
    expect(db).toEqual(['bdt-night', undefined, undefined]);
    // a second user is beyond numberOfUes = 1
    expect(await b.tagging.decide('sip:carol@example.com', [{ id: 'm3', octets: 1 }], at)).toEqual([undefined]);
    expect(await a.tagging.decide(bob, items, new Date(T0 + 18 * HOUR))).toEqual([undefined, undefined, undefined]); // after 06:00
  });
});
