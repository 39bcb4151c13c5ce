#!/usr/bin/env node
/**
 * npm run test:compose:cluster — deploy/cluster/docker-compose.yml (the clustered shape: 6-node Redis Cluster, 3 NATS
 * servers with JetStream, 2 charging-enablers, 2 im-servers, Kamailio as the SIP edge) on a Docker engine (issue 14).
 *
 * Through ../shared/tools/local-docker (host networking, stand-in base images: see its README): builds the images,
 * `up -d` (the one-shot service forms the Redis Cluster), waits for every health check, provisions two accounts and
 * SIP users over the admin APIs, checks that the Redis Cluster has 3 primaries + 3 replicas and that the CDR stream
 * has 3 replicas, deposits two messages with SIPp through the edge, retrieves them with SIPp through the edge (the
 * client's MSRP side is test/support/msrp-listener), checks the exact charge against deploy/tariffs.yaml, `down -v`.
 * Secrets are made for the run and kept in a temporary env file (the project's .env is neither read nor written).
 * Prints timings. Needs sipp and the full host build (dist/test, made here when older than the sources).
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { rmSync } = require('node:fs');
const { join } = require('node:path');
const { ROOT, LD, runComposeTest, writeComposeEnv, secs, Failure, reporter, run, setupEngine, busyPorts, http, healthWatcher, until, distFresh, redact } = require('./compose-helpers');

const PROJECT = process.env.COMPOSE_TEST_PROJECT || 'imc-ccompose-test';
const COMPOSE_FILE = join('deploy', 'cluster', 'docker-compose.yml');
const HEALTH_TIMEOUT_MS = 300_000;
const REDIS = [1, 2, 3, 4, 5, 6];
const NATS = [1, 2, 3];
const SERVICES = [...REDIS.map((i) => `redis-${i}`), ...NATS.map((i) => `nats-${i}`), 'charging-enabler-1', 'charging-enabler-2', 'im-server-1', 'im-server-2', 'kamailio'];
const TCP_PORTS = [...REDIS.flatMap((i) => [7000 + i, 17000 + i]), ...NATS.flatMap((i) => [4230 + i, 6230 + i, 8230 + i]), 8091, 8092, 8093, 8094, 5070, 5071, 5072, 5076, 5077, 2865, 2866, 2875, 2876];
const UDP_PORTS = [5070, 5071, 5072];
const CE = ['http://127.0.0.1:8091', 'http://127.0.0.1:8092'];
const IM = ['http://127.0.0.1:8093', 'http://127.0.0.1:8094'];
const EDGE = '127.0.0.1:5070';
const SERVICE = 'im.deferred-retrieval';

const t0 = Date.now();
const { say, check, timed, figures, printFigures } = reporter('cluster-compose-e2e');

async function main() {
  if (spawnSync('sipp', ['-v'], { stdio: 'ignore' }).error) {
    say('FAILED: sipp is not installed (Debian: apt-get install sip-tester); the cluster compose stack was NOT tested');
    return { code: 1 };
  }
  const setup = await setupEngine(timed);
  if (!setup.ok) {
    say(`FAILED: the Docker engine could not be made ready on this machine (local-docker setup exit ${setup.code}); the cluster compose stack was NOT tested`);
    return { code: 1 };
  }
  const cleanup = { stopDaemon: !setup.wasRunning };
  // host networking: every node on loopback, the im-servers trust the edge's loopback address
  const { dir, envFile, secrets } = writeComposeEnv('imc-ccompose-', ['IMC_BIND=127.0.0.1', 'SIP_TRUSTED_PROXIES=127.0.0.1']);
  const dc = (args, opts = {}) =>
    // the im-servers end a retrieval's session after 1 s idle (30 s by default) so that SIPp gets the BYE at once
    run(join(LD, 'compose-host-net'), ['-q', '--env', 'HTTP_HOST=127.0.0.1', '--env', 'SIP_BIND_HOST=127.0.0.1', '--env', 'IM_SESSION_IDLE_MS=1000', '.', '-p', PROJECT, '--env-file', envFile, ...args], {
      ...opts,
      env: { ...opts.env, COMPOSE_FILE },
    });
  cleanup.down = async () => {
    const r = await timed('down -v', () => dc(['down', '-v', '--remove-orphans'], { quiet: true }));
    say(`down -v: exit ${r.code}`);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await dc(['down', '-v', '--remove-orphans'], { quiet: true });
    const busy = await busyPorts(TCP_PORTS, UDP_PORTS);
    if (busy.length) throw new Failure(`ports in use on this host: ${busy.join(', ')} (the stack needs them; stop what holds them)`);
    await scenario(dc, secrets);
    return { code: 0, ...cleanup };
  } catch (e) {
    if (e instanceof Failure) {
      say(`FAILED: ${e.message}`);
      process.stdout.write((await dc(['ps'], { quiet: true })).out);
      process.stdout.write(redact((await dc(['logs', '--no-color', '--tail', '30'], { quiet: true })).out, secrets));
      return { code: 1, ...cleanup };
    }
    throw Object.assign(e, { cleanup });
  }
}

async function scenario(dc, secrets) {
  const token = secrets.ADMIN_TOKEN;
  // SIPp's runner, the MSRP listener and the enabler's rating code, from the sources of this checkout
  const needed = [join('test', 'sip', 'sipp.js'), join('test', 'support', 'msrp-listener.js'), join('apps', 'charging-enabler', 'src', 'rating', 'tariff-book.js')];
  if (distFresh(needed, ['apps', 'libs', join('test', 'support'), join('test', 'sip')])) say('host build: dist/ is newer than every source file; not rebuilt');
  else {
    const build = await timed('host build (npm run build: SIPp runner, MSRP listener, tariff rating)', () => run('npm', ['run', '--silent', 'build'], { quiet: true }));
    check(build.code === 0, 'the host build succeeds', build.out.slice(-2000));
  }
  const dist = (...p) => require(join(ROOT, 'dist', ...p));
  const { runSipp } = dist('test', 'sip', 'sipp.js');
  const { msrpListener } = dist('test', 'support', 'msrp-listener.js');
  const { unwrapCpim } = dist('libs', 'msrp', 'src', 'index.js');
  const { TariffBook } = dist('apps', 'charging-enabler', 'src', 'rating', 'tariff-book.js');
  const tariffs = TariffBook.fromFile(join(ROOT, 'deploy', 'tariffs.yaml'));

  const built = await timed('image build (enabler, im-server, kamailio, redis/nats nodes)', () => dc(['build', '--force-rm'], { quiet: true }));
  check(built.code === 0, 'every image builds from the repository', built.out.slice(-3000));

  const healthy = healthWatcher({ project: PROJECT, services: SERVICES, timeoutMs: HEALTH_TIMEOUT_MS, say });
  const started = Date.now();
  const up = await dc(['up', '-d'], { quiet: true });
  check(up.code === 0, 'up -d (the init service formed the Redis Cluster before the services started)', redact(up.out.slice(-3000), secrets));
  await healthy;
  figures.push(['time to healthy (all 12 containers)', secs(Date.now() - started)]);
  say(`every service healthy ${secs(Date.now() - started)} after up -d`);

  // the topology as the services see it
  const ready = await http(IM[0], 'GET', '/health/ready', token);
  const nodes = ready.json?.topology?.redis?.nodes ?? [];
  check(
    ready.status === 200 && ready.json.topology.redis.mode === 'cluster' && nodes.filter((n) => n.role === 'primary' && n.state === 'up').length === 3 && nodes.filter((n) => n.role === 'replica' && n.state === 'up').length === 3,
    'a Redis Cluster of 3 primaries + 3 replicas, every node up (/health/ready)',
    ready.json?.topology ?? ready.text,
  );

  const provision = async (name, balance) => {
    const aor = `sip:${name}${Math.random().toString(36).slice(2, 7)}@example.com`;
    let r = await http(CE[0], 'POST', '/v1/accounts', token, { subscriber: aor, balance, currency: 'EUR' });
    check(r.status === 201, `account ${aor} created over enabler 1's admin API`, r.text);
    r = await http(IM[1], 'PUT', `/v1/users/${encodeURIComponent(aor)}`, token, { password: 'secret-pw' });
    check(r.status < 300, `SIP user ${aor} created over im-server 2's admin API`, r.text);
    return aor;
  };
  const bob = await provision('bob', 1000);
  const alice = await provision('alice', 0);
  const user = (aor) => aor.slice(4, aor.indexOf('@'));

  // the CDR stream, created by the enablers with CDR_STREAM_REPLICAS automatic: R3 on the 3-node cluster
  const stream = async () => {
    const jsz = await fetch('http://127.0.0.1:8231/jsz?accounts=true&streams=true&config=true').then((r) => r.json(), () => undefined);
    const all = (jsz?.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
    return all.find((s) => s.name === 'CHARGING') ?? all[0];
  };
  const cdrStream = await until(stream, (s) => s?.config?.num_replicas === 3 && (s.cluster?.replicas?.length ?? 0) === 2, 20_000);
  check(cdrStream?.config?.num_replicas === 3 && cdrStream.cluster.replicas.length === 2, `the CDR stream ${cdrStream?.name} has 3 replicas (leader ${cdrStream?.cluster?.leader})`, cdrStream?.cluster ?? cdrStream);

  // two deposits through the edge: alice sends to bob (digest authentication passed through to the im-servers)
  const dep = await timed('SIPp: 2 deposits through the edge', () =>
    runSipp({ scenario: 'message-deposit.xml', target: EDGE, transport: 'u1', service: user(bob), fields: [[user(alice), 'secret-pw']], calls: 2 }),
  );
  check(dep.code === 0 && dep.errors === '', 'SIPp deposited two messages through Kamailio', `${dep.errors}\n${dep.output}`);
  const pending = [];
  for (const base of IM) {
    const list = (await http(base, 'GET', `/v1/users/${encodeURIComponent(bob)}/deferred`, token)).json?.messages ?? [];
    check(list.length === 2, `both messages stored, seen by ${base === IM[0] ? 'im-server 1' : 'im-server 2'}`, list);
    if (!pending.length) pending.push(...list);
  }

  // retrieval through the edge: SIP over SIPp, MSRP to the answering im-server's own port
  const before = (await http(CE[1], 'GET', `/v1/accounts/${encodeURIComponent(bob)}`, token)).json;
  const m = await msrpListener();
  let texts;
  try {
    const r = await timed('SIPp: retrieval of 2 messages through the edge', () =>
      runSipp({ scenario: 'retrieval-uac.xml', target: EDGE, transport: 'u1', fields: [[user(bob), 'secret-pw', String(m.port), m.sid]] }),
    );
    check(r.code === 0 && r.errors === '', 'SIPp retrieved through Kamailio (INVITE, ACK, BYE with the im-server that holds the dialog)', `${r.errors}\n${r.output}`);
    texts = m.got.map((x) => new TextDecoder().decode(unwrapCpim(x.body).body).trim());
  } finally {
    m.close();
  }
  check(JSON.stringify(texts) === JSON.stringify(['Hello from SIPp 1', 'Hello from SIPp 2']), 'both messages arrived over MSRP', texts);

  // charged exactly the tariff's price, once per message
  const cdrsOf = async () => (await http(CE[1], 'GET', `/v1/cdrs?subscriber=${encodeURIComponent(bob)}&limit=100`, token)).json?.cdrs ?? [];
  const cdrs = await until(cdrsOf, (l) => l.some((c) => c.type === 'release'), 15_000);
  const debits = cdrs.filter((c) => c.type === 'debit');
  check(debits.length === 2 && new Set(debits.map((d) => d.itemId)).size === 2, 'one debit CDR per message', debits);
  let total = 0;
  for (const d of debits) {
    const msg = pending.find((p) => p.id === d.itemId);
    const price = tariffs.rate(SERVICE, bob, d.timestamp, [msg?.octets ?? -1]).total;
    check(msg && price > 0 && d.amount === price, `message ${d.itemId}: charged the tariff's price (${msg?.octets} octets → ${price} minor units)`, { debit: d, msg });
    total += price;
  }
  const after = (await http(CE[0], 'GET', `/v1/accounts/${encodeURIComponent(bob)}`, token)).json;
  check(after.balance === before.balance - total && after.reserved === 0, `the balance went down by exactly ${total} and nothing stays reserved`, { before, after });
  for (const base of IM) {
    const left = (await http(base, 'GET', `/v1/users/${encodeURIComponent(bob)}/deferred`, token)).json?.messages;
    check(Array.isArray(left) && left.length === 0, 'the delivered messages are deleted', left);
  }
  // which im-servers the dispatcher used (informative: round-robin spreads the requests)
  const served = [];
  for (const base of IM) {
    const text = await fetch(`${base}/metrics`).then((r) => r.text(), () => '');
    served.push([...text.matchAll(/^sip_requests_total\{[^}]*\} (\d+)/gm)].reduce((a, x) => a + Number(x[1]), 0));
  }
  say(`SIP requests counted by im-server 1 / 2: ${served.join(' / ')}`);
  const logs = await dc(['logs', '--no-color'], { quiet: true });
  const leaked = Object.entries(secrets).filter(([, v]) => logs.out.includes(v) || logs.out.includes(encodeURIComponent(v))).map(([k]) => k);
  check(logs.code === 0 && leaked.length === 0, 'no secret appears in the containers’ logs', leaked);
}

runComposeTest(main, { say, t0, printFigures });
