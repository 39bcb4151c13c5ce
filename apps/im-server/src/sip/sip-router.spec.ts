import { FakeClock, type SipRequest } from '@imc/sip';
import type { ServerTx } from './sip-context';
import { ALLOW, SipRouter, type SipHandler } from './sip-router';
import { MAX_MERGED_ENTRIES } from './merged-requests';
import { request, serverTx } from './test-fakes';

const T1 = 500;

/** A handler that records what it was given. */
function recorder(methods: string[], extra: Partial<SipHandler> = {}): SipHandler & { got: ServerTx[] } {
  const got: ServerTx[] = [];
  return { methods, got, handle: (tx) => void got.push(tx), ...extra };
}

function setup(handlers?: SipHandler[]) {
  const clock = new FakeClock();
  const options = recorder(['OPTIONS']);
  const invite = recorder(['INVITE', 'ACK', 'CANCEL'], { onAck: (req: SipRequest) => req.callId === 'known@x' });
  const router = new SipRouter(handlers ?? [options, invite], { clock, t1: T1 });
  const route = async (req: SipRequest) => {
    const tx = serverTx(req);
    await router.route(tx);
    return tx;
  };
  return { clock, router, options, invite, route };
}

describe('SipRouter: dispatch by method', () => {
  it('hands each request to the handler registered for its method, and to no other', async () => {
    const { options, invite, route } = setup();
    const o = await route(request('OPTIONS', 'sip:im.example.com'));
    const i = await route(request('INVITE', 'sip:deferred@example.com'));
    expect(options.got.map((t) => t.request.method)).toEqual(['OPTIONS']);
    expect(invite.got.map((t) => t.request.method)).toEqual(['INVITE']);
    expect(o.answers).toEqual([]);
    expect(i.answers).toEqual([]);
  });

  it('an ACK for a 2xx goes to the handler of ACK; false when it knows no such dialog, or nobody handles ACK', () => {
    const { router } = setup();
    expect(router.onAck(request('ACK', 'sip:x@example.com', { 'Call-ID': 'known@x' }))).toBe(true);
    expect(router.onAck(request('ACK', 'sip:x@example.com'))).toBe(false);
    expect(setup([recorder(['OPTIONS'])]).router.onAck(request('ACK', 'sip:x@example.com', { 'Call-ID': 'known@x' }))).toBe(false);
  });

  it('refuses a table with two handlers for a method, or a method the front does not know', () => {
    const clock = new FakeClock();
    expect(() => new SipRouter([recorder(['OPTIONS']), recorder(['OPTIONS'])], { clock, t1: T1 })).toThrow('two handlers for OPTIONS');
    expect(() => new SipRouter([recorder(['FROB'])], { clock, t1: T1 })).toThrow('FROB is not a method');
  });

  it('the sizes of what peers can grow: the merged-request memory and each handler’s own', async () => {
    const { router, route } = setup([recorder(['OPTIONS'], { sizes: () => ({ subscriptions: 3 }) })]);
    await route(request('OPTIONS', 'sip:im.example.com'));
    expect(router.sizes()).toEqual({ merged: 1, subscriptions: 3 });
  });
});

describe('SipRouter: the checks common to every request', () => {
  it('an unknown method → 501 with Allow, and no handler sees it', async () => {
    const { route, options, invite } = setup();
    const tx = await route(request('FROB', 'sip:im.example.com'));
    expect(tx.answers).toEqual([{ status: 501, reason: 'Not Implemented', headers: [['Allow', ALLOW]], toTag: undefined }]);
    expect(options.got.length + invite.got.length).toBe(0);
  });

  it('a known method nobody handles → 405 with Allow (RFC 3261 §8.2.1); a method of a dialog we never create → 481', async () => {
    const { route } = setup();
    expect((await route(request('REFER', 'sip:im.example.com'))).answers).toMatchObject([{ status: 405, headers: [['Allow', ALLOW]] }]);
    expect((await route(request('PUBLISH', 'sip:im.example.com'))).answers).toMatchObject([{ status: 405 }]);
    for (const m of ['NOTIFY', 'INFO', 'UPDATE', 'PRACK']) expect((await route(request(m, 'sip:im.example.com'))).answers).toMatchObject([{ status: 481 }]);
  });

  it('Require with an extension we lack → 420 with Unsupported naming it; path and outbound are understood; a CANCEL is never refused so', async () => {
    const { route, options, invite } = setup();
    const tx = await route(request('OPTIONS', 'sip:im.example.com', { Require: 'outbound, 100rel, foo' }));
    expect(tx.answers).toMatchObject([{ status: 420, reason: 'Bad Extension', headers: [['Unsupported', '100rel, foo']] }]);
    await route(request('OPTIONS', 'sip:im.example.com', { Require: 'path, Outbound' }));
    await route(request('CANCEL', 'sip:deferred@example.com', { Require: 'foo' }));
    expect(options.got).toHaveLength(1);
    expect(invite.got.map((t) => t.request.method)).toEqual(['CANCEL']);
  });

  it('a request merged with one seen by another branch within 64·T1 → 482 (§8.2.2.2); not so with a To tag, for a CANCEL, or after 64·T1', async () => {
    const { route, clock, options } = setup();
    const same = { From: '<sip:alice@example.com>;tag=m1', 'Call-ID': 'merged@x', CSeq: '5 OPTIONS' };
    const branch = (b: string) => ({ ...same, Via: `SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK${b}` });
    expect((await route(request('OPTIONS', 'sip:im.example.com', branch('a')))).answers).toEqual([]);
    // the same branch again is a retransmission (the transaction layer absorbs those), not a merge
    expect((await route(request('OPTIONS', 'sip:im.example.com', branch('a')))).answers).toEqual([]);
    expect((await route(request('OPTIONS', 'sip:im.example.com', branch('b')))).answers).toMatchObject([{ status: 482, reason: 'Loop Detected' }]);
    expect((await route(request('OPTIONS', 'sip:im.example.com', { ...branch('c'), To: '<sip:im.example.com>;tag=ours' }))).answers).toEqual([]);
    expect(options.got).toHaveLength(3);
    clock.advance(64 * T1);
    expect((await route(request('OPTIONS', 'sip:im.example.com', branch('d')))).answers).toEqual([]);
  });

  it('the merged-request memory empties itself by the clock when requests stop, and never holds more than its bound', async () => {
    const { route, clock, router } = setup();
    for (let i = 0; i < 10; i++) await route(request('OPTIONS', 'sip:im.example.com'));
    expect(router.sizes().merged).toBe(10);
    clock.advance(64 * T1);
    expect(router.sizes().merged).toBe(0);
    expect(clock.pending()).toBe(0);
    for (let i = 0; i < MAX_MERGED_ENTRIES + 5; i++) await route(request('OPTIONS', 'sip:im.example.com'));
    expect(router.sizes().merged).toBe(MAX_MERGED_ENTRIES);
    router.close();
    expect(clock.pending()).toBe(0);
  });

  it('while draining: INVITE, MESSAGE and SUBSCRIBE → 503 with Retry-After; the rest still reach their handlers', async () => {
    const { route, router, options, invite } = setup();
    router.drain();
    for (const m of ['INVITE', 'MESSAGE', 'SUBSCRIBE'])
      expect((await route(request(m, 'sip:deferred@example.com'))).answers).toMatchObject([{ status: 503, reason: 'Shutting Down', headers: [['Retry-After', '30']] }]);
    await route(request('OPTIONS', 'sip:im.example.com'));
    await route(request('CANCEL', 'sip:deferred@example.com'));
    expect(options.got).toHaveLength(1);
    expect(invite.got.map((t) => t.request.method)).toEqual(['CANCEL']);
  });
});
