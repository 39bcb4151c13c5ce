/**
 * Background retrieval windows through the im-server's admin HTTP (docs/windows-and-usage.md §1, TS 29.122 T8):
 * who may call, negotiation, selection, fixed fields, GET/DELETE, capacity, and the rating of tagged messages by the
 * real Charging Enabler (CDRs and the billing report carry the rating group). Real Redis, NATS and HTTP.
 */
import { startStack, Stack, provision, imAdmin } from '../support/stack-harness';
import { admin, ch2ClientFor, waitFor } from '../support/enabler-harness';
import { http, tariffFileWithWindowNow } from './bdt-support';
import { run } from '../../apps/cli/src/main';
import { retrieve } from '../../apps/cli/src/retrieval-client';

const BANK = 'bank-token-0123456789';
const NEWS = 'news-token-0123456789';
const ADMIN = 'test-admin-token';
const HOUR = 3600000;
const iso = (ms: number) => new Date(ms).toISOString();

describe('background retrieval windows: the T8 API', () => {
  let s: Stack;
  const now = Date.now();
  const base = '/3gpp-bdt/v1';
  const post = (asId: string, body: unknown, token = BANK) => http(s.im.httpPort, 'POST', `${base}/${asId}/subscriptions`, body, token);
  const body = (over: Record<string, unknown> = {}) => ({
    volumePerUe: { totalVolume: 4096 },
    numberOfUes: 2,
    desiredTimeWindow: { startTime: iso(now - HOUR), stopTime: iso(now + HOUR) },
    ...over,
  });

  beforeAll(async () => {
    const file = tariffFileWithWindowNow(now);
    s = await startStack({
      im: { BDT_TARIFFS_FILE: file, BDT_AS_TOKENS: `bank=${BANK}`, BDT_WINDOW_CAPACITY_OCTETS: '20000', BDT_MAX_BIT_RATE_DL: '2 Mbps' },
      enabler: { TARIFFS_FILE: file },
    });
    expect((await http(s.im.httpPort, 'PUT', '/v1/bdt/as/news', { token: NEWS }, ADMIN)).status).toBe(201);
  });
  afterAll(() => s?.close());

  describe('who may call', () => {
    it('an AS token only for its own asId; the admin token for any known asId; unknown asId or no token refused', async () => {
      expect((await http(s.im.httpPort, 'GET', `${base}/bank/subscriptions`, undefined, BANK)).status).toBe(200);
      expect((await http(s.im.httpPort, 'GET', `${base}/news/subscriptions`, undefined, NEWS)).status).toBe(200);
      expect((await http(s.im.httpPort, 'GET', `${base}/news/subscriptions`, undefined, BANK)).status).toBe(403);
      expect((await http(s.im.httpPort, 'GET', `${base}/bank/subscriptions`, undefined, ADMIN)).status).toBe(200);
      expect((await http(s.im.httpPort, 'GET', `${base}/nobody/subscriptions`, undefined, ADMIN)).status).toBe(403);
      expect((await http(s.im.httpPort, 'GET', `${base}/bank/subscriptions`, undefined, 'wrong-token-0123456789')).status).toBe(403);
      expect((await http(s.im.httpPort, 'GET', `${base}/bank/subscriptions`)).status).toBe(401);
      // registering an AS is the operator's: an AS token cannot
      expect((await http(s.im.httpPort, 'PUT', '/v1/bdt/as/evil', { token: 'x'.repeat(20) }, BANK)).status).toBe(401);
      expect((await http(s.im.httpPort, 'PUT', '/v1/bdt/as/bank', { token: 'y'.repeat(20) }, ADMIN)).status).toBe(400); // configured one
      const list = await http(s.im.httpPort, 'GET', '/v1/bdt/as', undefined, ADMIN);
      expect(list.json.applicationServers).toEqual([{ asId: 'bank', source: 'configuration' }, expect.objectContaining({ asId: 'news', source: 'admin-api' })]);
      expect(JSON.stringify(list.json)).not.toContain(NEWS);
    });
  });

  describe('negotiation and selection', () => {
    it('refuses a bad body naming every field', async () => {
      const r = await post('bank', { volumePerUe: { totalVolume: 0 }, numberOfUes: 1.5, desiredTimeWindow: { startTime: 'tonight', stopTime: iso(now) } });
      expect(r.status).toBe(400);
      expect(r.json.invalidParams.map((p: { param: string }) => p.param)).toEqual(['volumePerUe.totalVolume', 'numberOfUes', 'desiredTimeWindow.startTime']);
      const back = await post('bank', body({ desiredTimeWindow: { startTime: iso(now + HOUR), stopTime: iso(now) } }));
      expect(back.json.invalidParams).toEqual([{ param: 'desiredTimeWindow.stopTime', reason: 'must be after startTime' }]);
    });

    it('offers the windows of the cheaper tariff window inside the desired window; PATCH selects one', async () => {
      // desired: now-1h … now+25h: today's window (from now, cut) and tomorrow's
      const r = await post('bank', body({ desiredTimeWindow: { startTime: iso(now - HOUR), stopTime: iso(now + 25 * HOUR) } }));
      expect(r.status).toBe(201);
      expect(r.location).toBe(`${base}/bank/subscriptions/${r.json.bdtReferenceId}`);
      expect(r.json).toMatchObject({ asId: 'bank', state: 'offered', volumePerUe: { totalVolume: 4096 }, numberOfUes: 2 });
      const ps = r.json.transferPolicies;
      expect(ps).toHaveLength(2);
      expect(ps[0]).toMatchObject({ bdtPolicyId: 1, ratingGroup: 'bdt-cheap', maxBitRateDl: '2 Mbps' });
      expect(Date.parse(ps[0].recTimeWindow.startTime)).toBeGreaterThanOrEqual(now - 60000);
      expect(Date.parse(ps[0].recTimeWindow.stopTime)).toBe(Math.floor((now + 2 * HOUR) / 60000) * 60000);
      expect(Date.parse(ps[1].recTimeWindow.startTime) - Date.parse(ps[0].recTimeWindow.stopTime)).toBe(21 * HOUR);

      const p = await http(s.im.httpPort, 'PATCH', `${base}/bank/subscriptions/${r.json.bdtReferenceId}`, { selectedPolicy: 2 }, BANK);
      expect(p.status).toBe(200);
      expect(p.json).toMatchObject({ state: 'selected', selectedPolicy: 2 });
      // selecting it again is harmless; another one is a conflict; an unknown one names the field
      expect((await http(s.im.httpPort, 'PATCH', `${base}/bank/subscriptions/${r.json.bdtReferenceId}`, { selectedPolicy: 2 }, BANK)).status).toBe(200);
      expect((await http(s.im.httpPort, 'PATCH', `${base}/bank/subscriptions/${r.json.bdtReferenceId}`, { selectedPolicy: 1 }, BANK)).status).toBe(409);
      const bad = await http(s.im.httpPort, 'PATCH', `${base}/bank/subscriptions/${r.json.bdtReferenceId}`, { selectedPolicy: 7, colour: 'red' }, BANK);
      expect(bad.status).toBe(400);
      expect(bad.json.invalidParams.map((x: { param: string }) => x.param)).toEqual(['colour', 'selectedPolicy']);
      const g = await http(s.im.httpPort, 'GET', `${base}/bank/subscriptions/${r.json.bdtReferenceId}`, undefined, BANK);
      expect(g.json).toMatchObject({ state: 'selected', selectedPolicy: 2, transferPolicies: ps });
      // another AS does not see it, even by id
      expect((await http(s.im.httpPort, 'GET', `${base}/news/subscriptions/${r.json.bdtReferenceId}`, undefined, NEWS)).status).toBe(404);
    });

    it('a PATCH changing volume, users or the desired window is 409 naming each field; repeating them unchanged is fine', async () => {
      const r = await post('bank', body({ desiredTimeWindow: { startTime: iso(now - HOUR), stopTime: iso(now + 25 * HOUR) } }));
      const url = `${base}/bank/subscriptions/${r.json.bdtReferenceId}`;
      const c = await http(s.im.httpPort, 'PATCH', url, { selectedPolicy: 1, volumePerUe: { totalVolume: 1 }, numberOfUes: 9, desiredTimeWindow: { startTime: iso(now), stopTime: iso(now + HOUR) } }, BANK);
      expect(c.status).toBe(409);
      expect(c.json.invalidParams.map((x: { param: string }) => x.param)).toEqual(['volumePerUe', 'numberOfUes', 'desiredTimeWindow']);
      expect((await http(s.im.httpPort, 'GET', url, undefined, BANK)).json.state).toBe('offered'); // nothing changed
      const same = await http(s.im.httpPort, 'PATCH', url, { selectedPolicy: 1, volumePerUe: { totalVolume: 4096 }, numberOfUes: 2 }, BANK);
      expect(same.status).toBe(200);
      expect((await http(s.im.httpPort, 'DELETE', url, undefined, BANK)).status).toBe(204);
    });

    it('the only policy offered is selected at once; capacity bounds bookings; DELETE frees the booking', async () => {
      // capacity 20000 per window (the day after tomorrow: nothing booked yet); 2 users x 4096 = 8192 per booking: two fit, not a third
      const one = { desiredTimeWindow: { startTime: iso(now + 48 * HOUR), stopTime: iso(now + 49 * HOUR) } };
      const a = await post('bank', body(one));
      expect(a.json).toMatchObject({ state: 'selected', selectedPolicy: 1 });
      const b = await post('bank', body(one));
      expect(b.json.state).toBe('selected');
      const c = await post('bank', body(one));
      expect(c.status).toBe(409);
      expect(c.json.detail).toMatch(/capacity left/);
      expect((await http(s.im.httpPort, 'DELETE', `${base}/bank/subscriptions/${a.json.bdtReferenceId}`, undefined, BANK)).status).toBe(204);
      expect((await http(s.im.httpPort, 'GET', `${base}/bank/subscriptions/${a.json.bdtReferenceId}`, undefined, BANK)).status).toBe(404);
      expect((await post('bank', body(one))).json.state).toBe('selected'); // its room is free again
    });
  });

  describe('imc windows (the operator)', () => {
    const lines: string[] = [];
    const imc = async (...argv: string[]) => {
      lines.length = 0;
      const code = await run(argv, (l) => lines.push(l));
      return { code, out: lines.join('\n') };
    };
    beforeAll(() => {
      process.env.IMC_IM_URL = `http://127.0.0.1:${s.im.httpPort}`;
      process.env.ADMIN_TOKEN = ADMIN;
    });

    it('registers an AS, creates, selects, shows, lists, sets capacity and deletes', async () => {
      expect((await imc('windows', 'register-as', 'shop', '--token', 'shop-token-0123456789')).out).toBe('registered application server shop');
      expect((await http(s.im.httpPort, 'GET', `${base}/shop/subscriptions`, undefined, 'shop-token-0123456789')).status).toBe(200);
      await imc('windows', 'create', 'shop', '--volume', '100', '--ues', '3', '--start', iso(now + 70 * HOUR), '--stop', iso(now + 97 * HOUR), '--json');
      const created = JSON.parse(lines[0]);
      expect(created).toMatchObject({ asId: 'shop', state: 'offered' });
      expect(created.transferPolicies).toHaveLength(2);
      const sel = await imc('windows', 'select', 'shop', created.bdtReferenceId, '--policy', '2');
      expect(sel.out.split('\n')[0]).toBe(`${created.bdtReferenceId}  shop  selected  3 users × 100 octets`);
      expect(sel.out).toMatch(/^ {2}\* policy 2: /m);
      expect((await imc('windows', 'show', 'shop', created.bdtReferenceId, '--json')).code).toBe(0);
      expect(JSON.parse(lines[0]).selectedPolicy).toBe(2);
      await imc('windows', 'list', '--as', 'shop', '--json');
      expect(JSON.parse(lines[0]).map((r: { bdtReferenceId: string }) => r.bdtReferenceId)).toEqual([created.bdtReferenceId]);
      const windowId = created.transferPolicies[1].windowId;
      expect((await imc('windows', 'capacity', windowId, '--octets', '0')).out).toBe(`${windowId}: capacity 0 octets; cancelled ${created.bdtReferenceId}`);
      expect((await imc('windows', 'show', 'shop', created.bdtReferenceId)).out).toMatch(/cancelled \(the operator withdrew/);
      expect((await imc('windows', 'delete', 'shop', created.bdtReferenceId)).out).toBe(`deleted ${created.bdtReferenceId} and its booking`);
      await expect(imc('windows', 'select', 'shop', 'x', '--policy', 'one')).rejects.toThrow(/--policy must be a non-negative integer/);
      await expect(imc('windows', 'show', 'shop', created.bdtReferenceId)).rejects.toThrow(/HTTP 404/);
      await expect(imc('windows', 'frobnicate')).rejects.toThrow(/unknown windows command/);
    });
  });

  describe('tagged deposits and rating', () => {
    it('a tag must name a selected resource; a tagged message retrieved inside its window within the booking is rated at the policy rating group', async () => {
      const inside = await post('bank', body({ volumePerUe: { totalVolume: 3000 }, numberOfUes: 1, desiredTimeWindow: { startTime: iso(now - HOUR), stopTime: iso(now + HOUR) } }));
      expect(inside.json.state).toBe('selected');
      const later = await post('bank', body({ desiredTimeWindow: { startTime: iso(now + 23 * HOUR), stopTime: iso(now + 24 * HOUR) } }));
      expect(later.json.state).toBe('selected');
      const bob = await provision(s, `bob-${Date.now()}`, 1000);
      const deposit = (text: string, bdtReferenceId?: string) =>
        imAdmin(s, 'POST', `/v1/users/${encodeURIComponent(bob)}/deferred`, { from: 'sip:bank@example.com', text, ...(bdtReferenceId ? { bdtReferenceId } : {}) });
      const refused = await deposit('x', 'no-such-resource');
      expect(refused.status).toBe(400);
      expect(refused.json.message[0]).toMatch(/^bdtReferenceId: /);
      // the NATS deposit takes the tag too, with the same check
      const { nc: depNc } = await ch2ClientFor(s.ns);
      const viaNats = async (bdtReferenceId: string) =>
        JSON.parse(new TextDecoder().decode((await depNc.request(`${s.env.NATS_SUBJECT_PREFIX}im.deferred.deposit`, JSON.stringify({ to: bob, from: 'sip:bank@example.com', text: 'n', bdtReferenceId }), { timeout: 2000 })).data));
      expect(await viaNats('no-such-resource')).toMatchObject({ ok: false, status: 400, details: [expect.stringMatching(/^bdtReferenceId: /)] });
      const natsTagged = await viaNats(later.json.bdtReferenceId);
      expect(natsTagged).toMatchObject({ ok: true });
      await depNc.close();
      expect(await s.im.store.delete(bob, natsTagged.id)).toBe(true); // (kept out of the figures below)
      const m1 = await deposit('a'.repeat(2000), inside.json.bdtReferenceId); // 2000 octets: within 3000
      const m2 = await deposit('b'.repeat(2000), inside.json.bdtReferenceId); // 4000 in all: beyond the volume per user
      const m3 = await deposit('c'.repeat(2000), later.json.bdtReferenceId); // its window is tomorrow
      const m4 = await deposit('d'.repeat(2000)); // untagged
      for (const m of [m1, m2, m3, m4]) expect(m.status).toBe(201);
      const pending = await s.im.store.pending(bob);
      expect(pending.map((m) => m.bdtReferenceId)).toEqual([inside.json.bdtReferenceId, inside.json.bdtReferenceId, later.json.bdtReferenceId, undefined]);

      // the reserve of a retrieval now: m1 at bdt-cheap (1), the others at the cheap window's time-of-day price (2 + 2 KiB)
      const items = pending.map((m) => ({ id: m.id, octets: m.octets }));
      const r = await s.im.charging.reserve(bob, 'rsv:bdt-test-1', 'call-bdt-1', items);
      expect(r.kind === 'answer' && r.res).toMatchObject({ result: 'SUCCESS', reservedAmount: 1 + 4 + 4 + 4 });
      const rid = r.kind === 'answer' ? r.res.reservationId! : '';
      // a renewed reservation of the same messages counts them once: m1 is still within the booking, m2 still not
      const again = await s.im.charging.reserve(bob, 'rsv:bdt-test-2', 'call-bdt-2', items.slice(0, 2));
      expect(again.kind === 'answer' && again.res.reservedAmount).toBe(1 + 4);
      await s.im.charging.release(bob, 'call-bdt-2', again.kind === 'answer' ? again.res.reservationId! : '');
      for (const m of pending) expect((await s.im.charging.debit(bob, 'call-bdt-1', rid, m.id, 'delivered', m.octets, true)).kind).toBe('answer');

      const cdrs = await waitFor(async () => {
        const l = await admin(s.enabler!.httpPort, 'GET', `/v1/cdrs?subscriber=${encodeURIComponent(bob)}&type=debit`);
        return l.json.cdrs?.length === 4 ? l.json.cdrs : undefined;
      }, 'four debit CDRs');
      const byItem = new Map(cdrs.map((c: { itemId: string }) => [c.itemId, c]));
      expect(byItem.get(pending[0].id)).toMatchObject({ amount: 1, ratingGroup: 'bdt-cheap' });
      for (const m of pending.slice(1)) {
        expect(byItem.get(m.id)).toMatchObject({ amount: 4 });
        expect((byItem.get(m.id) as { ratingGroup?: string }).ratingGroup).toBeUndefined();
      }
      // the enabler refuses a rating group its tariff does not have, naming it
      const { nc, ch2 } = await ch2ClientFor(s.ns);
      const unknown = await ch2.reserve({ requestId: 'rsv-unknown-group', subscriber: bob, service: 'im.deferred-retrieval', timestamp: new Date().toISOString(), items: [{ id: 'z', octets: 1, ratingGroup: 'gold' }] });
      await nc.close();
      expect(unknown).toMatchObject({ result: 'RATING_FAILED', message: expect.stringContaining('"gold"') });
      const report = await admin(s.enabler!.httpPort, 'GET', '/v1/reports/billing?format=json');
      expect(report.json.revenuePerRatingGroup).toEqual(
        expect.arrayContaining([{ ratingGroup: 'bdt-cheap', currency: 'EUR', messages: 1, amount: 1 }, expect.objectContaining({ ratingGroup: '(none)', currency: 'EUR' })]),
      );
    });

    it('a real retrieval (SIP + MSRP) inside the window charges the tagged message at the rating group, the rest as usual', async () => {
      const r = await post('bank', body({ volumePerUe: { totalVolume: 5000 }, numberOfUes: 1, desiredTimeWindow: { startTime: iso(now - HOUR), stopTime: iso(now + HOUR) } }));
      expect(r.json.state).toBe('selected');
      const carol = await provision(s, `carol-${Date.now()}`, 1000);
      const put = (text: string, tag?: string) =>
        imAdmin(s, 'POST', `/v1/users/${encodeURIComponent(carol)}/deferred`, { from: 'sip:bank@example.com', text, ...(tag ? { bdtReferenceId: tag } : {}) });
      expect((await put('statement', r.json.bdtReferenceId)).status).toBe(201);
      expect((await put('hello')).status).toBe(201);
      const got = await retrieve({ sipWsUrl: s.sipWsUrl, aor: carol, password: 'secret-pw', expect: 2, timeoutMs: 10000 });
      expect(got.messages.map((m) => m.text)).toEqual(['statement', 'hello']);
      // 1 (bdt-cheap) + 3 (the cheap window's time of day: 2 + 1 per started KiB)
      await waitFor(async () => (await admin(s.enabler!.httpPort, 'GET', `/v1/accounts/${encodeURIComponent(carol)}`)).json.balance === 1000 - 4, 'the balance after both debits');
      const cdrs = (await admin(s.enabler!.httpPort, 'GET', `/v1/cdrs?subscriber=${encodeURIComponent(carol)}&type=debit`)).json.cdrs as { amount: number; ratingGroup?: string }[];
      expect(cdrs.map((c) => [c.amount, c.ratingGroup ?? null]).sort()).toEqual([[1, 'bdt-cheap'], [3, null]]);
    });
  });
});
