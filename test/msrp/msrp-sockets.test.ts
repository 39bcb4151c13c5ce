/**
 * MSRP over real sockets: a server and a client built from libs/msrp + libs/msrp-node exchange 1 B, 2 KiB,
 * 100 KiB and 5 MiB messages over TCP and WebSocket with success reports on; a garbage peer is refused and the
 * server keeps serving.
 */
import { createConnection } from 'node:net';
import { randomBytes } from 'node:crypto';
import { MsrpSession, SessionDirectory, IncomingMessage } from '@imc/msrp';
import { MsrpTcpServer, MsrpWsServer, connectMsrpTcp, connectMsrpWs, nodeMsrpClock, nodeRandom } from '@imc/msrp-node';

function directory(): SessionDirectory & { add(s: MsrpSession): void } {
  const m = new Map<string, MsrpSession>();
  return { find: (id) => m.get(id), add: (s) => m.set(s.id, s) };
}

describe.each(['tcp', 'ws'] as const)('MSRP over %s', (kind) => {
  const serverDir = directory();
  let tcp: MsrpTcpServer | undefined;
  let ws: MsrpWsServer | undefined;
  let port: number;

  beforeAll(async () => {
    if (kind === 'tcp') port = await (tcp = new MsrpTcpServer(serverDir)).listen(0, '127.0.0.1');
    else port = await (ws = new MsrpWsServer(serverDir)).listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await tcp?.close();
    await ws?.close();
  });

  async function pair(answer?: (m: IncomingMessage) => number | undefined, timeoutMs = 5000) {
    const sid = randomBytes(6).toString('hex');
    const cid = randomBytes(6).toString('hex');
    const serverPath = `msrp://127.0.0.1:${port}/${sid};${kind}`;
    const clientPath = `msrp://client.invalid:9/${cid};${kind}`;
    const server = new MsrpSession({ localPath: serverPath, remotePath: clientPath, clock: nodeMsrpClock, random: nodeRandom, transactionTimeoutMs: timeoutMs });
    serverDir.add(server);
    const client = new MsrpSession({ localPath: clientPath, remotePath: serverPath, clock: nodeMsrpClock, random: nodeRandom, answer });
    const clientDir = { find: (id: string) => (id === cid ? client : undefined) };
    const conn = kind === 'tcp' ? await connectMsrpTcp('127.0.0.1', port, clientDir) : await connectMsrpWs(`ws://127.0.0.1:${port}`, clientDir);
    conn.adopt(client);
    expect(await client.sendBind()).toBe(200); // the active side's bodiless SEND binds the connection
    return { server, client, conn };
  }

  it.each([1, 2048, 100 * 1024, 5 * 1024 * 1024])('delivers a %i-byte message intact, confirmed by a success REPORT', async (size) => {
    const { server, client, conn } = await pair();
    const got: IncomingMessage[] = [];
    client.onMessage((m) => got.push(m));
    const body = randomBytes(size);
    const outcome = await server.send({ contentType: 'application/octet-stream', body, successReport: true });
    expect(outcome).toEqual({ kind: 'delivered' });
    expect(got).toHaveLength(1);
    expect(Buffer.compare(Buffer.from(got[0].body), body)).toBe(0);
    conn.end();
  }, 30000);

  it('a 4xx from the receiver is the outcome; silence times out', async () => {
    const { server, conn } = await pair(() => 415);
    expect(await server.send({ contentType: 'text/plain', body: Buffer.from('x') })).toEqual({ kind: 'rejected', status: 415 });
    conn.end();
    const quiet = await pair(() => undefined, 200);
    expect(await quiet.server.send({ contentType: 'text/plain', body: Buffer.from('x') })).toEqual({ kind: 'timeout' });
    quiet.conn.end();
  });

  it('481 for an unknown session, 506 for a session bound elsewhere', async () => {
    const { server, conn } = await pair();
    const strangerPath = `msrp://x.invalid:9/zzzz;${kind}`;
    const lost = new MsrpSession({ localPath: strangerPath, remotePath: `msrp://127.0.0.1:${port}/nope;${kind}`, clock: nodeMsrpClock, random: nodeRandom });
    const c2 = kind === 'tcp' ? await connectMsrpTcp('127.0.0.1', port, { find: () => lost }) : await connectMsrpWs(`ws://127.0.0.1:${port}`, { find: () => lost });
    c2.adopt(lost);
    expect(await lost.sendBind()).toBe(481);
    const thief = new MsrpSession({ localPath: server.remotePath, remotePath: server.localPath, clock: nodeMsrpClock, random: nodeRandom });
    const c3 = kind === 'tcp' ? await connectMsrpTcp('127.0.0.1', port, { find: () => thief }) : await connectMsrpWs(`ws://127.0.0.1:${port}`, { find: () => thief });
    c3.adopt(thief);
    expect(await thief.sendBind()).toBe(506);
    for (const c of [conn, c2, c3]) c.end();
  });

  if (kind === 'tcp') {
    it('a garbage peer gets a 400 or a closed connection, and others are still served', async () => {
      const closed = await new Promise<string>((resolve) => {
        const s = createConnection({ host: '127.0.0.1', port }, () => s.write('MSRP abcd1234 SEND\r\nnonsense here\r\n'));
        let got = '';
        s.on('data', (d) => (got += d.toString()));
        s.on('close', () => resolve(got));
      });
      expect(closed).toMatch(/^MSRP abcd1234 400/);
      const { server, client, conn } = await pair();
      const got: IncomingMessage[] = [];
      client.onMessage((m) => got.push(m));
      expect(await server.send({ contentType: 'text/plain', body: Buffer.from('still here') })).toEqual({ kind: 'delivered' });
      expect(Buffer.from(got[0].body).toString()).toBe('still here');
      conn.end();
    });
  }
});
