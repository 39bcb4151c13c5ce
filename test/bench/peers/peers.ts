/**
 * The benchmarks' peers (issue 16): programs other than ours doing the same job, measured in the same run as ours so
 * that each figure is read as a ratio. All on 127.0.0.1, free ports, bounded call counts and time, temporary
 * folders removed.
 *  - SIPp INVITE/BYE between two SIPp instances (built-in uac and uas scenarios): the ceiling of a SIP call on
 *    this machine, for our complete retrievals;
 *  - Kamailio msilo (Debian `kamailio` + `kamailio-sqlite-modules`, msilo/kamailio.cfg) on SQLite in WAL mode with
 *    `synchronous` FULL: SIPp MESSAGEs to an offline user (durable deposits), and the delivery of a stored backlog
 *    on REGISTER to a SIPp UAS that answers each MESSAGE 200 (bulk delivery; msilo deletes each on its 2xx).
 * Each returns undefined when a binary is missing (sipp, kamailio, sqlite3), with the reason on stderr.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, freePort } from '@imc/runtime';

/** This folder in the source tree (the benches run from dist/, the cfg and scenarios stay in test/bench/peers). */
const HERE = existsSync(join(__dirname, 'msilo', 'kamailio.cfg')) ? __dirname : join(__dirname, '..', '..', '..', '..', 'test', 'bench', 'peers');
const SIP_SCENARIOS = join(HERE, '..', '..', 'sip', 'scenarios');
const KAMAILIO_SQL = '/usr/share/kamailio/db_sqlite';

export interface PeerRate {
  what: string;
  count: number;
  seconds: number;
  perSecond: number;
  p99ms?: number;
  /** Bulk delivery: messages delivered and removed from the store, per second until the store held none. */
  removedPerSecond?: number;
  note?: string;
}

/** Which of the peers' binaries are missing ([] when all are there). */
export function missingPeerTools(): string[] {
  return ['sipp', 'kamailio', 'sqlite3'].filter((b) => !findBinary(b)).concat(existsSync(join(KAMAILIO_SQL, 'msilo-create.sql')) ? [] : ['kamailio-sqlite-modules']);
}

function skip(what: string, tools: string[]): undefined {
  const missing = tools.filter((t) => missingPeerTools().includes(t));
  console.error(`[bench] peer "${what}" skipped: missing ${missing.join(', ')} (apt-get install sip-tester kamailio kamailio-sqlite-modules sqlite3)`);
  return undefined;
}

interface Run {
  code: number;
  output: string;
  ms: number;
}

/** One SIPp process to its end (killed after `timeoutMs`); its exit code, output tail and wall time. */
function sipp(args: string[], cwd: string, timeoutMs: number, started?: (p: ChildProcess) => void): Promise<Run> {
  const t0 = performance.now();
  const p = spawn(findBinary('sipp')!, [...args, '-nostdin', '-max_socket', '1024'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  started?.(p);
  let out = '';
  const keep = (d: Buffer) => (out = (out + d).slice(-4000));
  p.stdout!.on('data', keep);
  p.stderr!.on('data', keep);
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    p.once('exit', (c) => {
      clearTimeout(timer);
      resolve({ code: c ?? -1, output: out, ms: performance.now() - t0 });
    }),
  );
}

/** Resolves when something accepts TCP connections on 127.0.0.1:`port` (throws after `timeoutMs`). */
async function tcpReady(port: number, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * SIPp uac → SIPp uas over TCP, built-in scenarios (INVITE, 100, 180, 200, ACK, BYE, 200; no pause), `calls` calls
 * with at most `concurrency` at once (a closed loop, as our retrieval bench's clients).
 */
export async function sippInviteBye(concurrency: number, calls: number): Promise<PeerRate | undefined> {
  if (!findBinary('sipp')) return skip('SIPp INVITE/BYE', ['sipp']);
  const dir = mkdtempSync(join(tmpdir(), 'imc-bench-sipp-'));
  const [uasPort, uacPort] = [await freePort(), await freePort()];
  let uas: ChildProcess | undefined;
  try {
    const server = sipp(['-sn', 'uas', '-t', 't1', '-i', '127.0.0.1', '-p', String(uasPort)], dir, 600000, (p) => (uas = p));
    await tcpReady(uasPort);
    const r = await sipp(
      [`127.0.0.1:${uasPort}`, '-sn', 'uac', '-t', 't1', '-i', '127.0.0.1', '-p', String(uacPort), '-m', String(calls), '-l', String(concurrency), '-r', '100000', '-d', '0', '-timeout', '120s', '-timeout_error', '-trace_stat', '-fd', '1', '-stf', 'stat.csv'],
      dir,
      150000,
    );
    uas?.kill('SIGTERM');
    await server;
    // SIPp's statistics file: the response time of the 200 (rtd) is not traced by the built-in uac, so no p99 here
    const failed = /Failed call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(r.output)?.[1];
    if (r.code !== 0) console.error(`[bench] SIPp uac exited ${r.code}: ${r.output.slice(-600)}`);
    return { what: 'SIPp uac → uas INVITE/BYE calls (TCP)', count: calls, seconds: +(r.ms / 1000).toFixed(2), perSecond: Math.round(calls / (r.ms / 1000)), note: r.code === 0 ? undefined : `exit ${r.code}, failed ${failed ?? '?'}` };
  } finally {
    uas?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A running Kamailio msilo (msilo/kamailio.cfg) on a fresh SQLite file in WAL mode, in a temporary folder. */
export class Msilo {
  private constructor(readonly port: number, readonly dir: string, private readonly proc: ChildProcess, private readonly uasPort?: number) {}

  get pid(): number {
    return this.proc.pid!;
  }

  /** `deliverTo`: with a port, msilo sends the messages it dumps to a UA on 127.0.0.1:port over TCP (bulkDelivery). */
  static async start(o: { deliverTo?: number } = {}): Promise<Msilo | undefined> {
    const missing = missingPeerTools().filter((t) => t !== 'sipp');
    if (missing.length) return skip('Kamailio msilo', missing);
    const dir = mkdtempSync(join(tmpdir(), 'imc-bench-msilo-'));
    const sql = ['standard-create.sql', 'msilo-create.sql'].map((f) => readFileSync(join(KAMAILIO_SQL, f), 'utf8')).join('\n');
    const made = spawnSync(findBinary('sqlite3')!, [join(dir, 'msilo.sqlite')], { input: `${sql}\nPRAGMA journal_mode=WAL;\n`, encoding: 'utf8' });
    if (made.status !== 0 || !/wal/.test(made.stdout)) throw new Error(`msilo database not created: ${made.stderr}`);
    const port = await freePort();
    // one worker per transport: msilo's SQLite connection is opened per process and db_sqlite sets no busy timeout,
    // so two workers writing at once fail with "database is locked" (measured: 2 UDP workers lost 60 % of deposits)
    const proc = spawn(
      findBinary('kamailio')!,
      ['-f', join(HERE, 'msilo', 'kamailio.cfg'), ...(o.deliverTo ? ['-A', `MSILO_NEXT_HOP="sip:127.0.0.1:${o.deliverTo};transport=tcp"`] : []), '-DD', '-E', '-w', dir, '-n', '1', '-N', '1', '-m', '256', '-M', '96', '-l', `udp:127.0.0.1:${port}`, '-l', `tcp:127.0.0.1:${port}`],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    proc.stderr!.on('data', (d) => (err = (err + d).slice(-3000)));
    proc.once('exit', (c) => c && console.error(`[bench] kamailio exited ${c}: ${err}`));
    await tcpReady(port);
    return new Msilo(port, dir, proc, o.deliverTo);
  }

  /** Messages stored for `user` right now. */
  count(user: string): number {
    const r = spawnSync(findBinary('sqlite3')!, [join(this.dir, 'msilo.sqlite'), `SELECT count(*) FROM silo WHERE username='${user.replace(/'/g, '')}'`], { encoding: 'utf8' });
    return Number(r.stdout.trim());
  }

  /** SIPp deposits (test/sip/scenarios/message-deposit.xml, as bench:deposit): `calls` at `rate`/s, 2,000 at most in flight. */
  async deposits(transport: 'UDP' | 'TCP', user: string, calls: number, rate: number): Promise<PeerRate> {
    writeFileSync(join(this.dir, 'fields.csv'), 'SEQUENTIAL\nalice;\n');
    const r = await sipp(
      [`127.0.0.1:${this.port}`, '-sf', join(SIP_SCENARIOS, 'message-deposit.xml'), '-inf', 'fields.csv', '-t', transport === 'UDP' ? 'u1' : 't1', '-i', '127.0.0.1', '-p', String(await freePort()), '-m', String(calls), '-r', String(rate), '-l', '2000', '-s', user, '-timeout', '120s', '-timeout_error'],
      this.dir,
      150000,
    );
    const stored = this.count(user);
    if (r.code !== 0) console.error(`[bench] SIPp → msilo (${transport}) exited ${r.code}: ${r.output.slice(-600)}`);
    return { what: `msilo deposits, ${transport}`, count: stored, seconds: +(r.ms / 1000).toFixed(2), perSecond: Math.round(stored / (r.ms / 1000)) };
  }

  /**
   * Bulk delivery: `n` messages stored for one user (SIPp over TCP, not timed), then one REGISTER; msilo sends them
   * to a SIPp UAS over TCP on the `deliverTo` port (its next hop), which answers each 200. Timed from the REGISTER
   * until the UAS has answered all `n` (`perSecond`); msilo deletes the delivered ones from SQLite later, on its
   * timer (check_time): `removedPerSecond` counts until SQLite holds none (30 s at most), as ours counts a message
   * when it is debited and removed.
   */
  async bulkDelivery(n: number): Promise<PeerRate> {
    if (!this.uasPort) throw new Error('bulkDelivery needs an msilo started with deliverTo');
    const uasPort = this.uasPort;
    const user = 'bulkuser';
    await this.deposits('TCP', user, n, 6000);
    const stored = this.count(user);
    let uas: ChildProcess | undefined;
    const server = sipp(['-sf', join(HERE, 'scenarios', 'message-uas.xml'), '-t', 't1', '-i', '127.0.0.1', '-p', String(uasPort), '-m', String(stored), '-timeout', '120s'], this.dir, 150000, (p) => (uas = p));
    await tcpReady(uasPort);
    writeFileSync(join(this.dir, 'register.csv'), `SEQUENTIAL\n${uasPort};\n`);
    const t0 = performance.now();
    const reg = await sipp(
      [`127.0.0.1:${this.port}`, '-sf', join(HERE, 'scenarios', 'register-uac.xml'), '-inf', 'register.csv', '-t', 't1', '-i', '127.0.0.1', '-p', String(await freePort()), '-m', '1', '-s', user, '-timeout', '20s', '-timeout_error'],
      this.dir,
      30000,
    );
    if (reg.code !== 0) {
      uas?.kill('SIGKILL');
      throw new Error(`REGISTER to msilo failed: ${reg.output.slice(-600)}`);
    }
    const done = await server;
    const secs = (performance.now() - t0) / 1000;
    // msilo removes the delivered rows from SQLite later, on its timer: wait (30 s at most) until none is left
    let left = this.count(user);
    while (left > 0 && performance.now() - t0 < 30000 + secs * 1000) {
      await new Promise((r) => setTimeout(r, 100));
      left = this.count(user);
    }
    const emptied = (performance.now() - t0) / 1000;
    const delivered = done.code === 0 ? stored : stored - left;
    const note = `${done.code === 0 ? '' : `UAS exit ${done.code}; `}${left === 0 ? `SQLite emptied ${emptied.toFixed(2)} s after the REGISTER` : `${left} still in SQLite after ${emptied.toFixed(2)} s`}`;
    return {
      what: `msilo delivery on REGISTER of ${stored} stored messages (TCP)`,
      count: delivered,
      seconds: +secs.toFixed(2),
      perSecond: Math.round(delivered / secs),
      removedPerSecond: Math.round((stored - left) / emptied),
      note,
    };
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      const gone = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      await gone;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

