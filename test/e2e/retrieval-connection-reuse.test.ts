/**
 * One client MSRP connection reused by retrievals of several users, one after the other (a relay, a load generator;
 * RFC 4975 §5.4 lets connections be shared), as test/bench/retrieval.bench.ts does. A connection binds no other
 * user's session while it carries someone's live session (MsrpConnection); a session the client has already hung
 * up on must not count as live: the server keeps it a moment after the BYE only to take the MSRP responses already
 * on the wire (retrieval-session.ts, the BYE grace), and sends nothing more on it.
 *
 * The bench saw a few retrievals in thousands bind "successfully" (it did not read the status: it was 481, and the
 * connection closed) and then wait for a message that never came: the previous user's session, BYE'd a moment
 * before, was still settling its last message when the next user's bind arrived.
 */
import { randomBytes } from 'node:crypto';
import { deposit, pendingCount, provision, Stack, startStack, uniqueUser } from '../support/stack-harness';
import { waitFor } from '../support/enabler-harness';
import { bindSend, okFor, rawMsrp } from '../support/msrp-raw';
import { RawSipTcp, retrievalDialog as invite } from '../support/sip-raw';

describe('an MSRP connection reused by the retrievals of several users', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ im: { SIP_TRUSTED_PROXIES: '127.0.0.1' } });
  });
  afterAll(() => s?.close());

  it("the next user's session binds right after the previous one's BYE, while its last message still settles", async () => {
    const [ann, ben] = [await provision(s, uniqueUser('ann'), 1000), await provision(s, uniqueUser('ben'), 1000)];
    await deposit(s, ann, 'sip:alice@example.com', 'for ann');
    await deposit(s, ben, 'sip:alice@example.com', 'for ben');
    const sip = await RawSipTcp.open(s.im.sipTcpPort);
    const msrp = await rawMsrp('127.0.0.1', s.im.msrpTcpPort, false);
    try {
      const annPath = `msrp://127.0.0.1:9/${randomBytes(8).toString('hex')};tcp`;
      const a = await invite(sip, ann, annPath);
      msrp.write(bindSend(a.serverPath, annPath));
      expect((await msrp.next()).status).toBe(200);
      const annSend = await msrp.next((f) => f.method === 'SEND');
      // the client hangs up before its 200 for the SEND has reached the server (the server waits for it a moment)
      expect(await a.bye()).toBe('SIP/2.0 200 OK');

      const benPath = `msrp://127.0.0.1:9/${randomBytes(8).toString('hex')};tcp`;
      const b = await invite(sip, ben, benPath);
      msrp.write(bindSend(b.serverPath, benPath));
      expect((await msrp.next((f) => f.status !== undefined)).status).toBe(200);
      msrp.write(okFor(annSend)); // ann's 200, late
      const benSend = await msrp.next((f) => f.method === 'SEND' && f.toPath[0] === benPath);
      expect(new TextDecoder().decode(benSend.body)).toContain('for ben');
      msrp.write(okFor(benSend));
      expect(msrp.isClosed()).toBe(false);
      expect(await b.bye()).toBe('SIP/2.0 200 OK');
      // both delivered messages are removed (ben's once its session settles after the BYE)
      await waitFor(async () => (await pendingCount(s, ben)) === 0 && (await pendingCount(s, ann)) === 0, 'both messages to be removed');
    } finally {
      msrp.end();
      sip.close();
    }
  });
});
