import { FakeClock } from '../clock';
import { parseSipMessage } from '../sip-parser';
import { SipRequest } from '../sip-message';
import { createResponse } from '../response-builder';
import { InviteServerState } from './invite-server-transaction';
import { NonInviteServerState } from './non-invite-server-transaction';
import { NonInviteClientState } from './non-invite-client-transaction';
import { TransactionLayer } from './transaction-layer';
import { Uas2xxRetransmitter } from './uas-2xx-retransmitter';
import { DEFAULT_TIMERS, TransactionSink } from './timers';

const T = { T1: 10, T2: 40, T4: 50 };
const req = (method: string, branch = 'z9hG4bKabc', extra = '') => {
  const r = parseSipMessage(
    new TextEncoder().encode(
      `${method} sip:deferred@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=${branch}\r\nFrom: <sip:bob@example.com>;tag=f1\r\nTo: <sip:deferred@example.com>${extra}\r\nCall-ID: c1\r\nCSeq: 1 ${method === 'ACK' || method === 'CANCEL' ? (method === 'ACK' ? 'ACK' : 'CANCEL') : method}\r\nContent-Length: 0\r\n\r\n`,
    ),
    { datagram: true },
  );
  if (!r.ok) throw new Error(r.reason);
  return r.message as SipRequest;
};
function sink(reliable: boolean) {
  const sent: string[] = [];
  const s: TransactionSink & { sent: string[] } = { reliable, sent, send: (b) => sent.push(new TextDecoder().decode(b).split('\r\n')[0]) };
  return s;
}

describe('INVITE server transaction (RFC 3261 §17.2.1, RFC 6026)', () => {
  it('UDP: 486 is retransmitted by Timer G doubling to T2, ACK confirms, Timer I terminates', () => {
    const clock = new FakeClock();
    const layer = new TransactionLayer(clock, T);
    const s = sink(false);
    const v = layer.receiveRequest(req('INVITE'), s);
    if (v.kind !== 'new-invite') throw new Error(v.kind);
    v.tx.respond(createResponse(v.tx.request, 486));
    expect(v.tx.state).toBe(InviteServerState.Completed);
    clock.advance(10 + 20 + 40 + 40); // G fires at 10, 30, 70, 110 (capped at T2 = 40)
    expect(s.sent).toEqual(Array(5).fill('SIP/2.0 486 Busy Here'));
    expect(layer.receiveRequest(req('INVITE'), s).kind).toBe('absorbed'); // retransmitted INVITE → final again
    expect(s.sent).toHaveLength(6);
    expect(layer.receiveRequest(req('ACK'), s).kind).toBe('absorbed');
    expect(v.tx.state).toBe(InviteServerState.Confirmed);
    clock.advance(T.T4);
    expect(v.tx.state).toBe(InviteServerState.Terminated);
    expect(s.sent).toHaveLength(6);
    expect(layer.size.server).toBe(0);
  });

  it('no ACK: Timer H (64·T1) tells the TU and terminates', () => {
    const clock = new FakeClock();
    const layer = new TransactionLayer(clock, T);
    let timedOut = 0;
    const v = layer.receiveRequest(req('INVITE'), sink(true), { onTimeout: () => timedOut++ });
    if (v.kind !== 'new-invite') throw new Error();
    v.tx.respond(createResponse(v.tx.request, 404));
    clock.advance(64 * T.T1 - 1);
    expect(timedOut).toBe(0);
    clock.advance(1);
    expect(timedOut).toBe(1);
    expect(v.tx.state).toBe(InviteServerState.Terminated);
  });

  it('2xx: Accepted absorbs retransmitted INVITEs, passes the ACK up, Timer L terminates', () => {
    const clock = new FakeClock();
    const layer = new TransactionLayer(clock, T);
    const s = sink(false);
    const v = layer.receiveRequest(req('INVITE'), s);
    if (v.kind !== 'new-invite') throw new Error();
    v.tx.respond(createResponse(v.tx.request, 100));
    expect(layer.receiveRequest(req('INVITE'), s).kind).toBe('absorbed');
    expect(s.sent).toEqual(['SIP/2.0 100 Trying', 'SIP/2.0 100 Trying']); // Proceeding: last provisional again
    v.tx.respond(createResponse(v.tx.request, 200));
    expect(v.tx.state).toBe(InviteServerState.Accepted);
    expect(layer.receiveRequest(req('INVITE'), s).kind).toBe('absorbed');
    expect(s.sent).toHaveLength(3); // nothing resent by the transaction in Accepted
    expect(layer.receiveRequest(req('ACK', 'z9hG4bKother', ';tag=t'), s)).toMatchObject({ kind: 'ack' });
    clock.advance(64 * T.T1);
    expect(v.tx.state).toBe(InviteServerState.Terminated);
  });

  it('the UAS core retransmits 2xx until ACK, and gives up after 64·T1', () => {
    const clock = new FakeClock();
    const s = sink(false);
    let gaveUp = 0;
    const r = new Uas2xxRetransmitter(new TextEncoder().encode('SIP/2.0 200 OK\r\n'), s, clock, T, () => gaveUp++);
    r.start();
    clock.advance(10 + 20 + 40);
    expect(s.sent).toHaveLength(4);
    r.ack();
    clock.advance(1000);
    expect(s.sent).toHaveLength(4);
    expect(gaveUp).toBe(0);
    const s2 = sink(false);
    const r2 = new Uas2xxRetransmitter(new TextEncoder().encode('SIP/2.0 200 OK\r\n'), s2, clock, T, () => gaveUp++);
    r2.start();
    clock.advance(64 * T.T1);
    expect(gaveUp).toBe(1);
  });

  it('CANCEL finds its INVITE transaction by branch', () => {
    const layer = new TransactionLayer(new FakeClock(), T);
    const v = layer.receiveRequest(req('INVITE'), sink(true));
    expect(layer.findInviteFor(req('CANCEL'))).toBe(v.kind === 'new-invite' ? v.tx : undefined);
    expect(layer.findInviteFor(req('CANCEL', 'z9hG4bKnope'))).toBeUndefined();
  });
});

describe('non-INVITE transactions', () => {
  it('server: retransmissions get the final response; Timer J is 64·T1 on UDP and 0 on reliable', () => {
    const clock = new FakeClock();
    const layer = new TransactionLayer(clock, T);
    const s = sink(false);
    const v = layer.receiveRequest(req('OPTIONS'), s);
    if (v.kind !== 'new') throw new Error();
    expect(layer.receiveRequest(req('OPTIONS'), s).kind).toBe('absorbed');
    expect(s.sent).toHaveLength(0); // Trying: discarded
    v.tx.respond(createResponse(v.tx.request, 200));
    layer.receiveRequest(req('OPTIONS'), s);
    expect(s.sent).toEqual(['SIP/2.0 200 OK', 'SIP/2.0 200 OK']);
    clock.advance(64 * T.T1);
    expect(v.tx.state).toBe(NonInviteServerState.Terminated);
    const r = layer.receiveRequest(req('OPTIONS', 'z9hG4bKtcp'), sink(true));
    if (r.kind !== 'new') throw new Error();
    r.tx.respond(createResponse(r.tx.request, 200));
    clock.advance(0);
    expect(r.tx.state).toBe(NonInviteServerState.Terminated);
  });

  it('client: Timer E retransmits on UDP, a final response completes, Timer F times out', async () => {
    const clock = new FakeClock();
    const layer = new TransactionLayer(clock, T);
    const s = sink(false);
    const bye = req('BYE', 'z9hG4bKbye');
    const tx = layer.sendRequest(bye, s);
    clock.advance(10 + 20);
    expect(s.sent).toHaveLength(3);
    expect(layer.receiveResponse(createResponse(bye, 200))).toBe(true);
    expect(tx.state).toBe(NonInviteClientState.Completed);
    await expect(tx.done).resolves.toMatchObject({ kind: 'response' });
    const lost = layer.sendRequest(req('NOTIFY', 'z9hG4bKnotify'), sink(false));
    clock.advance(64 * T.T1);
    await expect(lost.done).resolves.toEqual({ kind: 'timeout' });
    expect(lost.state).toBe(NonInviteClientState.Terminated);
  });
});

describe('TransactionLayer: bounded', () => {
  const sink = { sent: [] as Uint8Array[], reliable: false, send(b: Uint8Array) { this.sent.push(b); } };
  const requestFor = (i: number) => {
    const r = parseSipMessage(
      new TextEncoder().encode(`OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKcap${i}\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:x@example.com>\r\nCall-ID: cap${i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`),
      { datagram: true },
    );
    if (!r.ok || !(r.message instanceof SipRequest)) throw new Error('fixture');
    return r.message;
  };

  it('past maxServerTransactions new requests are refused (overloaded), retransmissions still absorbed; Timer J frees the room', () => {
    const clock = new FakeClock();
    const layer = new TransactionLayer(clock, DEFAULT_TIMERS, { maxServerTransactions: 3 });
    for (let i = 0; i < 3; i++) {
      const v = layer.receiveRequest(requestFor(i), sink);
      expect(v.kind).toBe('new');
      if (v.kind === 'new') v.tx.respond(createResponse(v.tx.request, 200, 'OK'));
    }
    expect(layer.receiveRequest(requestFor(3), sink).kind).toBe('overloaded');
    expect(layer.receiveRequest(requestFor(0), sink).kind).toBe('absorbed');
    expect(layer.size.server).toBe(3);
    clock.advance(64 * DEFAULT_TIMERS.T1); // §17.2.2 Timer J on UDP
    expect(layer.size.server).toBe(0);
    expect(layer.receiveRequest(requestFor(3), sink).kind).toBe('new');
  });
});
