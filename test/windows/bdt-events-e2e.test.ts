/**
 * The opportunity event end to end on one running im-server (real clock, a window opening two seconds after it is
 * booked, BDT_TICK_MS=50): `im.bdt.opportunity` on NATS, and a message-summary NOTIFY to a subscribed sip.js client
 * holding a message tagged with the resource. No sleeps: the test waits on the event and the NOTIFY.
 */
import { connect, NatsConnection } from 'nats';
import { Subscriber, UserAgent } from 'sip.js';
import { WebSocket as Ws } from 'ws';
import { provision, Stack, startStack } from '../support/stack-harness';
import { waitFor } from '../support/enabler-harness';
import { http, tariffFileWithWindowNow } from './bdt-support';

const TOKEN = 'bank-token-0123456789';
(globalThis as { WebSocket?: unknown }).WebSocket ??= Ws; // sip.js's transport in Node

describe('background window opening, end to end', () => {
  let s: Stack;
  let nc: NatsConnection;
  const events: { subject: string; data: Record<string, unknown>; at: number }[] = [];

  beforeAll(async () => {
    s = await startStack({ withEnabler: false, im: { BDT_TARIFFS_FILE: tariffFileWithWindowNow(), BDT_AS_TOKENS: `bank=${TOKEN}`, BDT_TICK_MS: '50' } });
    nc = await connect({ servers: s.env.NATS_URL });
    nc.subscribe(`${s.env.NATS_SUBJECT_PREFIX}im.bdt.>`, { callback: (_e, m) => events.push({ subject: m.subject, data: JSON.parse(m.string()), at: Date.now() }) });
    await nc.flush();
  });
  afterAll(async () => {
    await nc?.close();
    await s?.close();
  });

  it('publishes im.bdt.opportunity once when the window opens and NOTIFYs the user holding a tagged message', async () => {
    const opensAt = Date.now() + 2000;
    const created = await http(s.im.httpPort, 'POST', '/3gpp-bdt/v1/bank/subscriptions', {
      volumePerUe: { totalVolume: 10000 },
      numberOfUes: 10,
      desiredTimeWindow: { startTime: new Date(opensAt).toISOString(), stopTime: new Date(opensAt + 3600000).toISOString() },
    }, TOKEN);
    expect(created.json.state).toBe('selected');
    const ref = created.json.bdtReferenceId as string;

    const bob = await provision(s, `bob-${Date.now()}`, 0);
    const dep = await http(s.im.httpPort, 'POST', `/v1/users/${encodeURIComponent(bob)}/deferred`, { from: 'sip:bank@example.com', text: 'your statement', bdtReferenceId: ref }, 'test-admin-token');
    expect(dep.status).toBe(201);

    const ua = new UserAgent({
      uri: UserAgent.makeURI(bob),
      transportOptions: { server: s.sipWsUrl },
      authorizationUsername: bob.slice(4, bob.indexOf('@')),
      authorizationPassword: 'secret-pw',
      logBuiltinEnabled: false,
    });
    const notifies: number[] = [];
    await ua.start();
    try {
      const sub = new Subscriber(ua, UserAgent.makeURI(bob)!, 'message-summary', { expires: 60 });
      sub.delegate = { onNotify: (n) => { notifies.push(Date.now()); n.accept(); } };
      await sub.subscribe();
      await waitFor(() => notifies.length >= 1, 'the NOTIFY answering the SUBSCRIBE');
      const ev = await waitFor(() => events.find((e) => e.data.bdtReferenceId === ref), 'im.bdt.opportunity', 10000);
      expect(ev.subject).toBe(`${s.env.NATS_SUBJECT_PREFIX}im.bdt.opportunity`);
      expect(ev.data).toMatchObject({ event: 'BACKGROUND_DATA_TRANSFER_OPPORTUNITY', volumeQuota: 10000, numberOfUes: 10, ratingGroup: 'bdt-cheap', windowStart: new Date(opensAt).toISOString() });
      expect(ev.at).toBeGreaterThanOrEqual(opensAt); // not before the window opened
      await waitFor(() => notifies.some((t) => t >= opensAt), 'a NOTIFY when the window opened');
      // DELETE during the window: one error event
      expect((await http(s.im.httpPort, 'DELETE', `/3gpp-bdt/v1/bank/subscriptions/${ref}`, undefined, TOKEN)).status).toBe(204);
      await waitFor(() => events.some((e) => e.subject.endsWith('im.bdt.error') && e.data.bdtReferenceId === ref), 'im.bdt.error');
      await nc.flush();
      expect(events.map((e) => e.subject.slice(s.env.NATS_SUBJECT_PREFIX.length))).toEqual(['im.bdt.opportunity', 'im.bdt.error']);
      // the tagged message stays stored
      expect((await s.im.store.pending(bob)).map((m) => m.bdtReferenceId)).toEqual([ref]);
    } finally {
      await Promise.race([ua.stop(), new Promise((r) => setTimeout(r, 500))]);
    }
  });
});
