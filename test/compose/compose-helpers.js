/**
 * What the compose tests share (test/compose/compose-e2e.js, test/compose/cluster-compose-e2e.js): reporting and
 * timings, running commands, the local-docker engine, free ports, the admin HTTP APIs, waiting for health.
 */
'use strict';
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { createServer } = require('node:net');
const { createSocket } = require('node:dgram');
const { isAbsolute, join, resolve } = require('node:path');

const ROOT = resolve(__dirname, '..', '..');
/**
 * The local-docker tool: `../shared/tools/local-docker` beside the project; for a clone made elsewhere (CI clones the
 * repository into a fresh folder), beside the repository it was cloned from (its `origin`, when that is a local
 * folder); or LOCAL_DOCKER_TOOL. The first that has a `setup` wins; the test fails, saying so, when none does.
 */
function findLocalDocker() {
  const candidates = [];
  if (process.env.LOCAL_DOCKER_TOOL) candidates.push(resolve(process.env.LOCAL_DOCKER_TOOL));
  candidates.push(resolve(ROOT, '..', 'shared', 'tools', 'local-docker'));
  try {
    const origin = execFileSync('git', ['-C', ROOT, 'config', '--get', 'remote.origin.url'], { encoding: 'utf8' }).trim();
    const local = origin.startsWith('file://') ? origin.slice(7) : origin;
    if (local && isAbsolute(local) && existsSync(local)) candidates.push(resolve(local, '..', 'shared', 'tools', 'local-docker'));
  } catch {
    /* not a git checkout, or no origin */
  }
  return candidates.find((d) => existsSync(join(d, 'setup'))) ?? candidates[1];
}
const LD = findLocalDocker();

const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

class Failure extends Error {}

/** say / check / timed for one test, and the figures it collects. */
function reporter(name) {
  const figures = [];
  const say = (s) => process.stdout.write(`${name}: ${s}\n`);
  const check = (cond, what, detail) => {
    if (!cond) throw new Failure(`${what}${detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`);
    say(`ok - ${what}`);
  };
  const timed = async (label, fn) => {
    const s = Date.now();
    const r = await fn();
    const ms = Date.now() - s;
    figures.push([label, secs(ms)]);
    say(`${label}: ${secs(ms)}`);
    return r;
  };
  const printFigures = () => say(`figures:\n${figures.map(([k, v]) => `  ${k.padEnd(60)} ${v}`).join('\n')}`);
  return { say, check, timed, figures, printFigures };
}

/** Runs a command, output to ours (or collected with `quiet`); resolves with its exit code and collected output. */
function run(cmd, args, opts = {}) {
  return new Promise((res) => {
    const p = spawn(cmd, args, { cwd: ROOT, stdio: opts.quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit', env: { ...process.env, ...opts.env } });
    let out = '';
    p.stdout?.on('data', (d) => (out += d));
    p.stderr?.on('data', (d) => (out += d));
    p.on('error', (e) => res({ code: 127, out: String(e) }));
    p.on('exit', (code) => res({ code: code ?? 1, out }));
  });
}

/** The Debian mirrors for setup when apt has only deb822 sources (its own lookup needs /etc/apt/sources.list). */
function aptMirror(suite) {
  const r = spawnSync('sh', ['-c', `cat /etc/apt/sources.list.d/*.sources 2>/dev/null`], { encoding: 'utf8' });
  for (const stanza of (r.stdout || '').split(/\n\s*\n/)) {
    const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
    const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1].split(/\s+/) ?? [];
    if (uri && suites.includes(suite)) return uri;
  }
  return undefined;
}

/**
 * Makes the local Docker engine ready (../shared/tools/local-docker/setup). Resolves with { ok, code, wasRunning }:
 * a daemon that was running before is to be left running.
 */
async function setupEngine(timed) {
  const wasRunning = spawnSync('timeout', ['10', 'docker', 'info'], { stdio: 'ignore' }).status === 0;
  const env = {};
  if (!process.env.LOCAL_DOCKER_MIRROR && !existsSync('/etc/apt/sources.list')) {
    const m = aptMirror('bookworm');
    const s = aptMirror('bookworm-security');
    if (m) env.LOCAL_DOCKER_MIRROR = m;
    if (s) env.LOCAL_DOCKER_SECURITY_MIRROR = s;
  }
  const setup = await timed('docker setup', () => run(join(LD, 'setup'), [], { env }));
  return { ok: setup.code === 0, code: setup.code, wasRunning };
}

function portFree(port, udp) {
  return new Promise((res) => {
    if (udp) {
      const s = createSocket('udp4');
      s.once('error', () => res(false));
      s.bind(port, '0.0.0.0', () => s.close(() => res(true)));
      return;
    }
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => res(true)));
  });
}

/** The ports of `tcp` and `udp` that something on this host holds already, as "P/tcp" / "P/udp". */
async function busyPorts(tcp, udp = []) {
  const busy = [];
  for (const port of tcp) if (!(await portFree(port, false))) busy.push(`${port}/tcp`);
  for (const port of udp) if (!(await portFree(port, true))) busy.push(`${port}/udp`);
  return busy;
}

function secret(prefix) {
  // the characters that break a URL, and some that break config-file syntax
  return `${prefix}@${randomBytes(4).toString('hex')}/p:w#1`;
}

async function http(base, method, path, token, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}

/**
 * Resolves when every one of `services` of compose project `project` reported healthy, from `docker events` started
 * before `up`; rejects with a Failure after `timeoutMs`.
 */
function healthWatcher({ project, services, timeoutMs, say }) {
  const since = Date.now();
  const p = spawn('docker', ['events', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'event=health_status', '--format', '{{.Status}}|{{index .Actor.Attributes "com.docker.compose.service"}}'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const healthy = new Set();
  let buf = '';
  let resolveAll;
  let rejectAll;
  const all = new Promise((res, rej) => {
    resolveAll = res;
    rejectAll = rej;
  });
  p.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      const [status, svc] = line.split('|');
      if (/healthy$/.test(status) && !/unhealthy$/.test(status) && !healthy.has(svc)) {
        healthy.add(svc);
        say(`  ${svc} healthy at ${secs(Date.now() - since)}`);
      } else if (/unhealthy$/.test(status)) healthy.delete(svc);
      if (services.every((s) => healthy.has(s))) resolveAll();
    }
  });
  const timer = setTimeout(
    () => rejectAll(new Failure(`not every service was healthy within ${timeoutMs / 1000} s (healthy: ${[...healthy].join(', ') || 'none'})`)),
    timeoutMs,
  );
  all.catch(() => undefined).finally(() => {
    clearTimeout(timer);
    p.kill();
  });
  return all;
}

/** Calls `probe` until `done(result)` or the deadline; returns the last result. */
async function until(probe, done, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await probe();
    if (done(r) || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** mtime of the newest TypeScript source under the given folders (default apps/ and libs/). */
function newestSource(dirs = ['apps', 'libs']) {
  let newest = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === 'node_modules') continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of dirs) walk(join(ROOT, d));
  return newest;
}

/** True when every file of `files` (paths under dist/) exists and is newer than every source under `dirs`. */
function distFresh(files, dirs) {
  const newest = newestSource(dirs);
  return files.map((f) => join(ROOT, 'dist', f)).every((f) => existsSync(f) && statSync(f).mtimeMs > newest);
}

function redact(text, secrets) {
  let out = text;
  for (const v of Object.values(secrets)) out = out.split(v).join('***');
  return out;
}

/**
 * The env file of one test run (never the developer's .env): fresh secrets with `@ / : #` in each (see `secret`),
 * the NATS user, the SIP domain and address, and `extra` lines; readable by the owner only, in a temporary folder.
 */
function writeComposeEnv(prefix, extra = []) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const envFile = join(dir, 'compose.env');
  const secrets = { ADMIN_TOKEN: secret('adm'), NATS_PASSWORD: secret('nats'), REDIS_PASSWORD: secret('redis') };
  const lines = [...Object.entries(secrets).map(([k, v]) => `${k}=${v}`), 'NATS_USER=imc', 'SIP_DOMAIN=example.com', 'SIP_ADVERTISED_HOST=127.0.0.1', ...extra, 'LOG_LEVEL=info', ''];
  writeFileSync(envFile, lines.join('\n'), { mode: 0o600 });
  return { dir, envFile, secrets };
}

/**
 * Runs a compose test's `main()` to its end: takes the stack down, stops the Docker daemon when the test started it,
 * prints the figures and the verdict, and exits with the test's code (1 on any failure).
 */
function runComposeTest(main, { say, t0, printFigures }) {
  main()
    .then(async ({ code, stopDaemon, down }) => {
      if (down) await down();
      if (stopDaemon) {
        say('stopping the Docker daemon this test started');
        await run(join(LD, 'stop'), []);
      }
      printFigures();
      say(`${code === 0 ? 'PASSED' : 'FAILED'} in ${secs(Date.now() - t0)}`);
      process.exit(code);
    })
    .catch(async (e) => {
      say(`FAILED: ${e instanceof Failure ? e.message : e.stack}`);
      if (e.cleanup?.down) await e.cleanup.down();
      if (e.cleanup?.stopDaemon) await run(join(LD, 'stop'), []);
      process.exit(1);
    });
}

module.exports = { ROOT, LD, runComposeTest, writeComposeEnv, secs, Failure, reporter, run, aptMirror, setupEngine, portFree, busyPorts, secret, http, healthWatcher, until, newestSource, distFresh, redact };
