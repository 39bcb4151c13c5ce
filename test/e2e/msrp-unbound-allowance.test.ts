/**
 * The allowance of MSRP connections without a bound session (MSRP_MAX_UNBOUND_PER_SOURCE, RFC 4975 §14.1: anyone can
 * open one, so one source must not exhaust memory with them) against many honest clients behind one address (a NAT,
 * a load generator): a connection the server is waiting for — the client answered a 200 OK with our MSRP path — is
 * not anonymous, so each answered session raises its source's allowance by one until it binds or ends. Anonymous
 * connections keep the allowance they had (test/msrp/msrp-prebind.test.ts, test/sip/memory-flood.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { deposit, provision, Stack, startStack, uniqueUser } from '../support/stack-harness';
import { bindSend, rawMsrp, RawMsrp } from '../support/msrp-raw';
import { RawSipTcp, retrievalDialog } from '../support/sip-raw';

describe('MSRP connections of answered sessions from one address', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ im: { SIP_TRUSTED_PROXIES: '127.0.0.1', MSRP_MAX_UNBOUND_PER_SOURCE: '2' } });
  });
  afterAll(() => s?.close());

  it('5 clients behind one address, each answered, connect before any binds: none is closed at accept; anonymous ones still are beyond 2', async () => {
    const sip = await RawSipTcp.open(s.im.sipTcpPort);
    const conns: RawMsrp[] = [];
    try {
      const dialogs = [];
      for (let i = 0; i < 5; i++) {
        const aor = await provision(s, uniqueUser(`nat${i}`), 1000);
        await deposit(s, aor, 'sip:alice@example.com', `for client ${i}`);
        const clientPath = `msrp://127.0.0.1:9/${randomBytes(8).toString('hex')};tcp`;
        dialogs.push({ clientPath, ...(await retrievalDialog(sip, aor, clientPath)) });
      }
      // every client's connection is open before the first bind: 5 unbound at once from 127.0.0.1, over the 2
      for (let i = 0; i < 5; i++) conns.push(await rawMsrp('127.0.0.1', s.im.msrpTcpPort, false));
      dialogs.forEach((d, i) => conns[i].write(bindSend(d.serverPath, d.clientPath)));
      for (const c of conns) expect((await c.next()).status).toBe(200);
      const sends = await Promise.all(conns.map((c) => c.next((f) => f.method === 'SEND')));
      expect(sends.map((f) => new TextDecoder().decode(f.body).includes('for client'))).toEqual([true, true, true, true, true]);
      for (const c of conns) expect(c.isClosed()).toBe(false);

      // bound now, so their allowance is given back: anonymous connections from the same address get the 2 again
      const anonymous = [await rawMsrp('127.0.0.1', s.im.msrpTcpPort, false), await rawMsrp('127.0.0.1', s.im.msrpTcpPort, false)];
      conns.push(...anonymous);
      const third = await rawMsrp('127.0.0.1', s.im.msrpTcpPort, false);
      conns.push(third);
      await third.closed;
      expect(anonymous.map((c) => c.isClosed())).toEqual([false, false]);
    } finally {
      for (const c of conns) c.end();
      sip.close();
    }
  });
});
