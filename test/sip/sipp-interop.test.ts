/**
 * Interop with a SIP peer nobody here wrote: SIPp scenarios over UDP and TCP against the im-server — deposits by
 * MESSAGE with digest, the retrieval dialog (the test plays the client's MSRP side), CANCEL before the answer,
 * no ACK, and an MSRP connection that never comes. Each checks the charging outcome too.
 */
import { connect, NatsConnection } from 'nats';
import { unwrapCpim } from '@imc/msrp';
import { account, deposit, imAdmin, provision, Stack, startStack, uniqueUser } from '../support/stack-harness';
import { waitFor } from '../support/enabler-harness';
import { runSipp, sippAvailable } from './sipp';
import { msrpListener } from '../support/msrp-listener';
import { natsConnectionOptions } from '@imc/runtime';

const maybe = sippAvailable() ? describe : describe.skip;

maybe('SIPp interop', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ im: { IM_SESSION_IDLE_MS: '200', MSRP_CONNECT_TIMEOUT_MS: '600' } });
  });
  afterAll(() => s.close());
  const pending = async (aor: string) => (await imAdmin(s, 'GET', `/v1/users/${encodeURIComponent(aor)}/deferred`)).json.messages.length;

  it.each([
    ['UDP', 'u1'],
    ['TCP', 't1'],
  ] as const)('MESSAGE deposits with digest over %s are stored and answered 202', async (_n, t) => {
    const bob = await provision(s, uniqueUser('bob'), 0);
    const alice = await provision(s, uniqueUser('alice'), 0);
    const user = (a: string) => a.slice(4, a.indexOf('@'));
    const port = t === 'u1' ? s.im.sipUdpPort : s.im.sipTcpPort;
    const r = await runSipp({ scenario: 'message-deposit.xml', target: `127.0.0.1:${port}`, transport: t, service: user(bob), fields: [[user(alice), 'secret-pw']], calls: 3 });
    expect({ code: r.code, errors: r.errors }).toEqual({ code: 0, errors: '' });
    const msgs = (await imAdmin(s, 'GET', `/v1/users/${encodeURIComponent(bob)}/deferred`)).json.messages;
    expect(msgs).toHaveLength(3);
    expect(msgs[0]).toMatchObject({ from: alice, to: bob, contentType: 'text/plain' });
  });

  it.each([
    ['UDP', 'u1'],
    ['TCP', 't1'],
  ] as const)('a SIPp retrieval over %s: INVITE/401/INVITE/200/ACK, messages over MSRP, BYE from the server', async (_n, t) => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    for (const text of ['one', 'two']) await deposit(s, bob, 'sip:alice@example.com', text);
    const m = await msrpListener();
    try {
      const port = t === 'u1' ? s.im.sipUdpPort : s.im.sipTcpPort;
      const r = await runSipp({ scenario: 'retrieval-uac.xml', target: `127.0.0.1:${port}`, transport: t, fields: [[bob.slice(4, bob.indexOf('@')), 'secret-pw', String(m.port), m.sid]] });
      expect({ code: r.code, errors: r.errors }).toEqual({ code: 0, errors: '' });
      expect(m.got.map((x) => new TextDecoder().decode(unwrapCpim(x.body)!.body))).toEqual(['one', 'two']);
      const a = await waitFor(async () => {
        const acc = await account(s, bob);
        return acc.reserved === 0 ? acc : undefined;
      }, 'release');
      expect(a.balance).toBe(100 - 2 * 6);
      expect(await pending(bob)).toBe(0);
    } finally {
      m.close();
    }
  });

  it('no ACK: the server retransmits the 200, gives up after 64·T1 with a BYE and releases the reservation', async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    await deposit(s, bob, 'sip:alice@example.com', 'never acked');
    const m = await msrpListener();
    try {
      const r = await runSipp({ scenario: 'no-ack-uac.xml', target: `127.0.0.1:${s.im.sipUdpPort}`, transport: 'u1', fields: [[bob.slice(4, bob.indexOf('@')), 'secret-pw', String(m.port), m.sid]] });
      expect({ code: r.code, errors: r.errors }).toEqual({ code: 0, errors: '' });
      const a = await waitFor(async () => {
        const acc = await account(s, bob);
        return acc.reserved === 0 ? acc : undefined;
      }, 'release');
      expect(a.balance).toBe(100); // nothing was delivered before the ACK
      expect(await pending(bob)).toBe(1);
    } finally {
      m.close();
    }
  });

  it('MSRP never connected: BYE from the server after the MSRP timeout, reservation released, message kept', async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    await deposit(s, bob, 'sip:alice@example.com', 'unreachable');
    const r = await runSipp({ scenario: 'msrp-never-connected-uac.xml', target: `127.0.0.1:${s.im.sipTcpPort}`, transport: 't1', fields: [[bob.slice(4, bob.indexOf('@')), 'secret-pw', '9', 'nobody']] });
    expect({ code: r.code, errors: r.errors }).toEqual({ code: 0, errors: '' });
    const a = await waitFor(async () => {
      const acc = await account(s, bob);
      return acc.reserved === 0 ? acc : undefined;
    }, 'release');
    expect(a.balance).toBe(100);
    expect(await pending(bob)).toBe(1);
    const cdrs = (await s.enabler!.cdrs.list({ subscriber: bob })).cdrs;
    expect(cdrs.map((c) => c.type)).toEqual(['release']);
  });

  it('CANCEL before the answer: 200 to CANCEL, 487 to INVITE, the late reservation released', async () => {
    // a stalled enabler: the reserve for this subscriber is answered only after the CANCEL
    const bob = await provision(s, uniqueUser('bob'), 100);
    await deposit(s, bob, 'sip:alice@example.com', 'cancelled');
    const nc: NatsConnection = await connect(natsConnectionOptions(s.env.NATS_URL));
    const reserveSubject = `${s.env.NATS_SUBJECT_PREFIX}ch2.reserve`;
    const held: { respond: () => void }[] = [];
    // a second responder in another queue group sees each reserve; it holds bob's until the CANCEL went through
    const sub = nc.subscribe(reserveSubject, { callback: () => undefined });
    sub.unsubscribe();
    const im2 = await (await import('../../apps/im-server/src/bootstrap')).startImServer({
      ...(await (await import('../support/stack-harness')).imEnv(s.ns, { NATS_SUBJECT_PREFIX: `${s.env.NATS_SUBJECT_PREFIX}slow.`, CHARGING_TIMEOUT_MS: '3000', CHARGING_RETRIES: '0' })),
      REDIS_KEY_PREFIX: s.env.REDIS_KEY_PREFIX,
    });
    const slow = nc.subscribe(`${s.env.NATS_SUBJECT_PREFIX}slow.ch2.reserve`, {
      callback: (_e, msg) => {
        // forward to the real enabler later, after the CANCEL
        held.push({
          respond: () =>
            void nc.request(reserveSubject, msg.data, { timeout: 2000 }).then((r) => msg.respond(r.data)),
        });
      },
    });
    const release = nc.subscribe(`${s.env.NATS_SUBJECT_PREFIX}slow.ch2.release`, {
      callback: (_e, msg) => void nc.request(`${s.env.NATS_SUBJECT_PREFIX}ch2.release`, msg.data, { timeout: 2000 }).then((r) => msg.respond(r.data)),
    });
    try {
      const run = runSipp({ scenario: 'cancel-uac.xml', target: `127.0.0.1:${im2.sipUdpPort}`, transport: 'u1', fields: [[bob.slice(4, bob.indexOf('@')), 'secret-pw', '9', 'x']] });
      await waitFor(() => held.length > 0, 'the reserve to be held', 10000);
      const r = await run; // SIPp saw 100, sent CANCEL, got 200 and 487 while the reserve was held
      expect({ code: r.code, errors: r.errors }).toEqual({ code: 0, errors: '' });
      held[0].respond();
      const a = await waitFor(async () => {
        const acc = await account(s, bob);
        const rel = (await s.enabler!.cdrs.list({ subscriber: bob, type: 'release' })).cdrs;
        return acc.reserved === 0 && rel.length === 1 ? acc : undefined;
      }, 'the late reservation released', 8000);
      expect(a.balance).toBe(100);
      expect(await pending(bob)).toBe(1);
    } finally {
      slow.unsubscribe();
      release.unsubscribe();
      await nc.close();
      await im2.close();
    }
  });
});
