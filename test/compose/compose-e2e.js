#!/usr/bin/env node
/**
 * npm run test:compose — the compose stack as an operator runs it, on a Docker engine (issue 11).
 *
 * Builds both images from this repository, starts docker-compose.yml through ../shared/tools/local-docker
 * (stand-in base images, host networking: see its README for what that does and does not prove), waits for every
 * service to be healthy, then: provisions an account and a SIP user over the admin HTTP APIs, deposits a message,
 * retrieves it with the project's CLI, checks the exact charge against deploy/tariffs.yaml (rated by the enabler's
 * own TariffBook), checks the browser client at /client/, the JetStream billing report (the reports' own NATS
 * connection) and that no secret shows in any container's log; deposits a second message, `down` + `up -d`, and
 * checks that the balance, the stored message and the CDRs survived and the second retrieval is charged; `down -v`.
 *
 * The secrets are made for the run (with `@ / : #` in them, so that credentials are proved to pass unencoded) and
 * kept in a temporary env file given with --env-file: the project's .env is neither read nor written.
 * If the Docker engine cannot be started the test says so and fails: a green run means the compose files work.
 * Prints timings: host build, image build, image sizes, time to healthy (cold and after restart).
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { existsSync, rmSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { ROOT, LD, runComposeTest, writeComposeEnv, secs, Failure, reporter, run, setupEngine, busyPorts, http, healthWatcher: watchHealth, until, newestSource, redact } = require('./compose-helpers');

const PROJECT = process.env.COMPOSE_TEST_PROJECT || 'imc-compose-test';
const HEALTH_TIMEOUT_MS = 180_000;
const SERVICES = ['nats', 'redis', 'charging-enabler', 'im-server'];
// what the stack listens on in the host's network namespace (compose-host-net moves Redis/NATS to 16379/14222)
const TCP_PORTS = [8080, 8081, 5060, 5066, 2855, 2856, 8222, 14222, 16379];
const IM = 'http://127.0.0.1:8080';
const CE = 'http://127.0.0.1:8081';
const SERVICE = 'im.deferred-retrieval';

const t0 = Date.now();
const { say, check, timed, figures, printFigures } = reporter('compose-e2e');
const healthWatcher = () => watchHealth({ project: PROJECT, services: SERVICES, timeoutMs: HEALTH_TIMEOUT_MS, say });

async function main() {
  // 1. the engine: setup installs and starts what is missing; a daemon that was running is left running
  const setup = await setupEngine(timed);
  if (!setup.ok) {
    say(`FAILED: the Docker engine could not be made ready on this machine (${join(LD, 'setup')} exit ${setup.code}); the compose stack was NOT tested`);
    return { code: 1, stopDaemon: false };
  }
  const cleanup = { stopDaemon: !setup.wasRunning };

  // 2. the env file for this run (not the developer's .env)
  const { dir, envFile, secrets } = writeComposeEnv('imc-compose-');
  const dc = (args, opts) =>
    run(join(LD, 'compose-host-net'), ['-q', '--env', 'HTTP_HOST=127.0.0.1', '--env', 'SIP_BIND_HOST=127.0.0.1', '.', '-p', PROJECT, '--env-file', envFile, ...args], opts);
  cleanup.down = async () => {
    const r = await dc(['down', '-v', '--remove-orphans'], { quiet: true });
    say(`down -v: exit ${r.code}`);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // 3. what an interrupted earlier run may have left (restart: unless-stopped brings it back with the daemon), then
    // the ports the stack takes on this host must be free
    await dc(['down', '-v', '--remove-orphans'], { quiet: true });
    const busy = await busyPorts(TCP_PORTS, [5060]);
    if (busy.length) throw new Failure(`ports in use on this host: ${busy.join(', ')} (the stack needs them; stop what holds them)`);
    await scenario(dc, secrets);
    return { code: 0, ...cleanup };
  } catch (e) {
    if (e instanceof Failure) {
      say(`FAILED: ${e.message}`);
      const ps = await dc(['ps'], { quiet: true });
      process.stdout.write(ps.out);
      const logs = await dc(['logs', '--no-color', '--tail', '40'], { quiet: true });
      process.stdout.write(redact(logs.out, secrets));
      return { code: 1, ...cleanup };
    }
    throw Object.assign(e, { cleanup });
  }
}

async function scenario(dc, secrets) {
  const token = secrets.ADMIN_TOKEN;
  // the CLI and the enabler's rating code, from the sources of this checkout
  const needed = [join('apps', 'cli', 'src', 'main.js'), join('apps', 'charging-enabler', 'src', 'rating', 'tariff-book.js')].map((f) => join(ROOT, 'dist', f));
  if (needed.every((f) => existsSync(f) && statSync(f).mtimeMs > newestSource())) {
    say('host build: dist/ is newer than every source file (npm test built it); not rebuilt');
  } else {
    const build = await timed('host build (npm run build:image, for the CLI and the tariff rating)', () => run('npm', ['run', '--silent', 'build:image'], { quiet: true }));
    check(build.code === 0, 'the host build succeeds', build.out.slice(-2000));
  }
  const { TariffBook } = require(join(ROOT, 'dist', 'apps', 'charging-enabler', 'src', 'rating', 'tariff-book.js'));
  const tariffs = TariffBook.fromFile(join(ROOT, 'deploy', 'tariffs.yaml'));

  const built = await timed('image build (both images)', () => dc(['build', '--force-rm']));
  check(built.code === 0, 'both images build from the repository');
  const images = spawnSync('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}} {{.Size}}'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith(`${PROJECT.replace(/[^a-z0-9]/g, '')}_`) || l.startsWith(`${PROJECT}_`));
  for (const l of images) {
    say(`image ${l}`);
    figures.push([`image ${l.split(' ')[0]}`, l.split(' ')[1]]);
  }

  const up = async (label) => {
    const healthy = healthWatcher();
    const started = Date.now();
    const r = await dc(['up', '-d']);
    check(r.code === 0, `${label}: up -d`);
    await healthy;
    const ms = Date.now() - started;
    figures.push([`time to healthy (${label})`, secs(ms)]);
    say(`all four services healthy ${secs(ms)} after up -d (${label})`);
  };
  await up('first start');

  const aor = `sip:compose${randomBytes(3).toString('hex')}@example.com`;
  const userPassword = 'u@s/e:r#pw';
  const cli = (args) => {
    const r = spawnSync(process.execPath, [join(ROOT, 'apps', 'cli', 'bin', 'imc.js'), ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 90_000,
      env: { ...process.env, ADMIN_TOKEN: token, IMC_ENABLER_URL: CE, IMC_IM_URL: IM, IMC_SIP_WS: 'ws://127.0.0.1:5066' },
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  let r = await http(CE, 'POST', '/v1/accounts', token, { subscriber: aor, balance: 1000, currency: 'EUR' });
  check(r.status === 201, `account ${aor} created over the enabler's admin API`, r.text);
  r = await http(IM, 'PUT', `/v1/users/${encodeURIComponent(aor)}`, token, { password: userPassword });
  check(r.status === 201, 'SIP user created over the im-server admin API', r.text);
  r = await http(IM, 'PUT', `/v1/users/${encodeURIComponent(aor)}`, 'wrong-token', { password: userPassword });
  check(r.status === 401, 'the admin API refuses a wrong token', r.status);

  /** Deposits, retrieves with the CLI, and checks the exact charge. */
  const depositAndRetrieve = async (text) => {
    r = await http(IM, 'POST', `/v1/users/${encodeURIComponent(aor)}/deferred`, token, { from: 'sip:alice@example.com', text });
    check(r.status === 201, 'message deposited over the admin API', r.text);
    const pending = (await http(IM, 'GET', `/v1/users/${encodeURIComponent(aor)}/deferred`, token)).json.messages;
    check(pending.length === 1, 'one message pending', pending);
    const before = (await http(CE, 'GET', `/v1/accounts/${encodeURIComponent(aor)}`, token)).json.balance;
    const got = cli(['retrieve', aor, '--password', userPassword, '--expect', '1', '--json']);
    check(got.code === 0, 'imc retrieve exits 0', got.err || got.out);
    const res = JSON.parse(got.out.trim().split('\n').pop());
    check(res.status === 200 && res.messages.length === 1 && res.messages[0].text === text, 'imc retrieve received the message over SIP + MSRP', res);
    const after = (await http(CE, 'GET', `/v1/accounts/${encodeURIComponent(aor)}`, token)).json.balance;
    const cdrs = (await http(CE, 'GET', `/v1/cdrs?subscriber=${encodeURIComponent(aor)}&type=debit`, token)).json;
    const debit = cdrs.cdrs.filter((c) => c.itemId === pending[0].id);
    check(debit.length === 1, 'one debit CDR for the message', debit);
    const price = tariffs.rate(SERVICE, aor, debit[0].timestamp, [pending[0].octets]).total;
    check(price > 0 && before - after === price, `charged exactly the tariff's price (${pending[0].octets} octets → ${price} minor units)`, { before, after, price });
    check(res.charged === price, "the CLI reports the same charge", res.charged);
    const left = (await http(IM, 'GET', `/v1/users/${encodeURIComponent(aor)}/deferred`, token)).json.messages;
    check(left.length === 0, 'the delivered message is deleted', left);
    return price;
  };
  const firstPrice = await depositAndRetrieve('Deferred through compose');

  r = await fetch(`${IM}/client/`);
  const page = await r.text();
  check(r.status === 200 && /text\/html/.test(r.headers.get('content-type') ?? '') && /<html/i.test(page), 'GET /client/ answers 200 with the HTML page', r.status);
  r = await fetch(`${IM}/client/client.js`);
  check(r.status === 200, 'GET /client/client.js (the bundle) answers 200', r.status);
  // the CDR relay (its own thread and NATS connection) published the debit; the report reads it back from JetStream
  const relayed = async () => {
    const rep = await http(CE, 'GET', '/v1/reports/billing?source=jetstream&format=json', token);
    const row = rep.json?.rows?.find((x) => x.subscriber === aor && x.service === SERVICE);
    return { status: rep.status, debited: row?.debited };
  };
  const report = await until(relayed, (x) => x.status !== 200 || x.debited === firstPrice, 15_000);
  check(report.status === 200 && report.debited === firstPrice, 'the CDR relay published the debit to JetStream and the billing report reads it back (both NATS connections authenticate)', report);

  // a second message stays stored across down + up
  r = await http(IM, 'POST', `/v1/users/${encodeURIComponent(aor)}/deferred`, token, { from: 'sip:alice@example.com', text: 'Still here after a restart' });
  check(r.status === 201, 'second message deposited (not retrieved)', r.text);
  const snapshot = async () => ({
    account: (await http(CE, 'GET', `/v1/accounts/${encodeURIComponent(aor)}`, token)).json,
    pending: (await http(IM, 'GET', `/v1/users/${encodeURIComponent(aor)}/deferred`, token)).json.messages.map((m) => m.id),
  });
  const cdrIds = async () => {
    const j = (await http(CE, 'GET', `/v1/cdrs?subscriber=${encodeURIComponent(aor)}&limit=1000`, token)).json;
    return j.cdrs.map((c) => c.cdrId).sort();
  };
  const beforeRestart = { ...(await snapshot()), cdrs: await cdrIds() };
  check(beforeRestart.pending.length === 1 && beforeRestart.cdrs.length >= 2, 'before the restart: one pending message, the CDRs of the first retrieval', beforeRestart);

  const down = await dc(['down']);
  check(down.code === 0, 'down (volumes kept)');
  await up('after down + up');
  const afterRestart = { ...(await snapshot()), cdrs: await cdrIds() };
  check(afterRestart.account.balance === beforeRestart.account.balance && afterRestart.account.reserved === beforeRestart.account.reserved, 'the balance survived down + up', { before: beforeRestart.account, after: afterRestart.account });
  check(JSON.stringify(afterRestart.pending) === JSON.stringify(beforeRestart.pending), 'the stored message survived down + up', afterRestart.pending);
  check(JSON.stringify(afterRestart.cdrs) === JSON.stringify(beforeRestart.cdrs), 'the CDRs survived down + up', { before: beforeRestart.cdrs.length, after: afterRestart.cdrs.length });

  const got = cli(['retrieve', aor, '--password', userPassword, '--expect', '1', '--json']);
  const res = JSON.parse(got.out.trim().split('\n').pop() || '{}');
  check(got.code === 0 && res.messages?.[0]?.text === 'Still here after a restart' && res.charged > 0, 'the restarted stack delivers and charges the stored message', res);

  // nothing secret in any container's log, nor in either service's /metrics
  const logs = await dc(['logs', '--no-color'], { quiet: true });
  const leaked = (text) => Object.entries(secrets).filter(([, v]) => text.includes(v) || text.includes(encodeURIComponent(v))).map(([k]) => k);
  check(logs.code === 0 && logs.out.length > 0 && leaked(logs.out).length === 0, 'no secret appears in the containers’ logs', leaked(logs.out));
  const metrics = (await Promise.all([fetch(`${IM}/metrics`), fetch(`${CE}/metrics`)].map(async (p) => (await p).text()))).join('\n');
  check(/sip_requests_total/.test(metrics) && leaked(metrics).length === 0, 'no secret appears in /metrics', leaked(metrics));
}

runComposeTest(main, { say, t0, printFigures });
