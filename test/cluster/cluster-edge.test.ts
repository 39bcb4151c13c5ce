/**
 * The clustered shape end to end (run by `npm run test:cluster`, which starts the Redis Cluster and the NATS cluster
 * for the whole run): two charging-enablers and two im-servers on them, Kamailio (deploy/kamailio/kamailio.cfg) as
 * the SIP edge. SIPp deposits and retrieves through the edge over UDP and TCP; each retrieval is charged exactly once
 * whichever im-server the dispatcher picked; the CDR stream is replicated on the NATS cluster.
 */
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, NatsConnection } from 'nats';
import { natsConnectionOptions } from '@imc/runtime';
import { unwrapCpim } from '@imc/msrp';
import { startImServer, RunningImServer } from '../../apps/im-server/src/bootstrap';
import type { RunningEnabler } from '../../apps/charging-enabler/src/bootstrap';
import { admin, Namespace, startEnabler, testNamespace, waitFor } from '../support/enabler-harness';
import { imEnv } from '../support/stack-harness';
import { msrpListener } from '../support/msrp-listener';
import { kamailioAvailable, KamailioEdge, startKamailioEdge } from '../support/kamailio-edge';
import { runSipp, sippAvailable } from '../sip/sipp';

const clustered = process.env.IMC_TOPOLOGY === 'cluster';
const maybe = clustered && kamailioAvailable() && sippAvailable() ? describe : describe.skip;

maybe('two enablers and two im-servers on a Redis Cluster and a NATS cluster, Kamailio in front', () => {
  let ns: Namespace;
  let enablers: RunningEnabler[];
  let ims: RunningImServer[];
  let edge: KamailioEdge;
  let nc: NatsConnection;

  beforeAll(async () => {
    ns = testNamespace();
    enablers = [await startEnabler(ns), await startEnabler(ns)];
    ims = [];
    for (let i = 0; i < 2; i++) ims.push(await startImServer(await imEnv(ns, { IM_SESSION_IDLE_MS: '200', MSRP_CONNECT_TIMEOUT_MS: '1500' })));
    edge = await startKamailioEdge(ims);
    nc = await connect(natsConnectionOptions(ns.env.NATS_URL));
  }, 60000);
  afterAll(async () => {
    await nc?.close();
    await edge?.stop();
    for (const im of ims ?? []) await im.close();
    for (const e of enablers ?? []) await e.close();
  });

  const user = (aor: string) => aor.slice(4, aor.indexOf('@'));
  async function provision(name: string, balance: number): Promise<string> {
    const aor = `sip:${name}${Math.random().toString(36).slice(2, 7)}@example.com`;
    expect((await admin(enablers[0].httpPort, 'POST', '/v1/accounts', { subscriber: aor, balance, currency: 'EUR' })).status).toBe(201);
    expect((await admin(ims[1].httpPort, 'PUT', `/v1/users/${encodeURIComponent(aor)}`, { password: 'secret-pw' })).status).toBeLessThan(300);
    return aor;
  }

  it('creates the CDR stream with 3 replicas on the 3-node NATS cluster', async () => {
    const jsm = await nc.jetstreamManager();
    const info = await waitFor(() => jsm.streams.info(ns.env.CDR_STREAM).catch(() => undefined), 'the CDR stream');
    expect(info.config.num_replicas).toBe(3);
    // three peers hold it: the leader and two replicas (while a leader is being elected, all three show as replicas)
    const peers = new Set([info.cluster?.leader, ...(info.cluster?.replicas ?? []).map((r) => r.name)].filter(Boolean));
    expect(peers.size).toBe(3);
  });

  it.each([
    ['UDP', 'u1'],
    ['TCP', 't1'],
  ] as const)('deposits and a retrieval through the edge over %s are stored, delivered and charged once', async (_n, t) => {
    const bob = await provision('bob', 100);
    const alice = await provision('alice', 0);
    const dep = await runSipp({ scenario: 'message-deposit.xml', target: `127.0.0.1:${edge.port}`, transport: t, service: user(bob), fields: [[user(alice), 'secret-pw']], calls: 2 });
    expect({ code: dep.code, errors: dep.errors }).toEqual({ code: 0, errors: '' });
    // both im-servers see the same store, whichever took the deposits
    for (const im of ims) expect((await admin(im.httpPort, 'GET', `/v1/users/${encodeURIComponent(bob)}/deferred`)).json.messages).toHaveLength(2);

    const m = await msrpListener();
    try {
      const r = await runSipp({ scenario: 'retrieval-uac.xml', target: `127.0.0.1:${edge.port}`, transport: t, fields: [[user(bob), 'secret-pw', String(m.port), m.sid]] });
      expect({ code: r.code, errors: r.errors }).toEqual({ code: 0, errors: '' });
      expect(m.got.map((x) => new TextDecoder().decode(unwrapCpim(x.body)!.body).trim())).toEqual(['Hello from SIPp 1', 'Hello from SIPp 2']);
    } finally {
      m.close();
    }
    const cdrs = await waitFor(async () => {
      const list = (await enablers[1].cdrs.list({ subscriber: bob })).cdrs;
      return list.some((c) => c.type === 'release') ? list : undefined;
    }, 'the release');
    const debits = cdrs.filter((c) => c.type === 'debit');
    expect(debits).toHaveLength(2);
    expect(new Set(debits.map((d) => d.itemId)).size).toBe(2);
    const acct = (await admin(enablers[0].httpPort, 'GET', `/v1/accounts/${encodeURIComponent(bob)}`)).json;
    expect(acct).toMatchObject({ balance: 100 - debits.reduce((a, d) => a + d.amount, 0), reserved: 0 });
    expect(debits.reduce((a, d) => a + d.amount, 0)).toBeGreaterThan(0);
    for (const im of ims) expect((await admin(im.httpPort, 'GET', `/v1/users/${encodeURIComponent(bob)}/deferred`)).json.messages).toEqual([]);
  });

  it('/health/ready names every Redis node with its role, and tells which one is down', async () => {
    const ready = await admin(enablers[0].httpPort, 'GET', '/health/ready');
    expect(ready.status).toBe(200);
    const nodes: { node: string; role: string; state: string }[] = ready.json.topology.redis.nodes;
    expect(ready.json.topology.redis).toMatchObject({ mode: 'cluster', state: 'ok' });
    expect(nodes.filter((n) => n.role === 'primary' && n.state === 'up')).toHaveLength(3);
    expect(nodes.filter((n) => n.role === 'replica' && n.state === 'up')).toHaveLength(3);
    expect(ns.env.NATS_URL.split(',').map((u) => new URL(u).host)).toContain(new URL(`nats://${ready.json.topology.nats.connectedTo}`).host);

    // a replica killed with SIGKILL shows as down once the cluster has marked it failed; the service stays ready
    const replica = nodes.find((n) => n.role === 'replica')!;
    const pid = Number(/process_id:(\d+)/.exec(execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', replica.node.split(':')[1], 'INFO', 'server'], { encoding: 'utf8' }))![1]);
    process.kill(pid, 'SIGKILL');
    const after = await waitFor(async () => {
      const r = await admin(ims[0].httpPort, 'GET', '/health/ready');
      const me = (r.json.topology.redis.nodes as typeof nodes).find((n) => n.node === replica.node);
      return r.status === 200 && me?.state === 'down' ? r.json : undefined;
    }, 'the killed replica reported down', 15000, 200);
    expect(after.topology.redis.nodes.filter((n: { state: string }) => n.state === 'up')).toHaveLength(5);
  });

  it('is no open relay: an in-dialog request routed through it to a host that is not an im-server gets 403', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    try {
      const local = sock.address().port;
      const answer = new Promise<string>((resolve) => sock.once('message', (m) => resolve(m.toString('latin1'))));
      sock.send(
        `MESSAGE sip:victim@127.0.0.2:6379 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bKrelay1;rport\r\n` +
          `Route: <sip:127.0.0.1:${edge.port};lr>\r\nMax-Forwards: 70\r\nFrom: <sip:mallory@example.com>;tag=m1\r\n` +
          `To: <sip:victim@example.com>;tag=v1\r\nCall-ID: relay1@example.com\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\n` +
          `Content-Length: 4\r\n\r\nPING`,
        edge.port,
        '127.0.0.1',
      );
      expect((await answer).split('\r\n')[0]).toBe('SIP/2.0 403 Not relaying');
    } finally {
      sock.close();
    }
  });
});
