/**
 * `npm start` for a first-time user: the launcher (built to dist/, as `npm start` runs it) finds Redis and NATS,
 * starts both services, seeds the demo data once, prints the banner; a real client retrieves the demo messages;
 * Ctrl-C (SIGINT) stops everything and leaves no process behind.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from '@imc/runtime';
import { connect } from 'nats';
import { retrieve } from '../../apps/cli/src/retrieval-client';

const ROOT = join(__dirname, '..', '..');
const START = join(ROOT, 'dist', 'libs', 'runtime', 'src', 'start.js');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start', () => {
  beforeAll(() => {
    // npm start builds first; the suite builds when dist/ is missing or older than the launcher's source
    const src = join(ROOT, 'libs', 'runtime', 'src', 'start.ts');
    if (!existsSync(START) || statSync(START).mtimeMs < statSync(src).mtimeMs) execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'ignore' });
  }, 240000);

  it('starts the stack, seeds the demo once, serves a retrieval, and Ctrl-C leaves nothing running', async () => {
    const id = randomBytes(3).toString('hex');
    const [imHttp, ceHttp, udp, tcp, ws, mtcp, mws] = await Promise.all(Array.from({ length: 7 }, () => freePort()));
    const env = {
      ...process.env,
      NATS_URL: process.env.NATS_URL!,
      REDIS_URL: process.env.REDIS_URL!,
      NATS_SUBJECT_PREFIX: `st${id}.`,
      REDIS_KEY_PREFIX: `st${id}:`,
      CDR_STREAM: `ST${id}`,
      IM_HTTP_PORT: String(imHttp),
      CE_HTTP_PORT: String(ceHttp),
      SIP_UDP_PORT: String(udp),
      SIP_TCP_PORT: String(tcp),
      SIP_WS_PORT: String(ws),
      MSRP_TCP_PORT: String(mtcp),
      MSRP_WS_PORT: String(mws),
      SIP_BIND_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      IM_SESSION_IDLE_SECONDS: '1',
    };
    let out = '';
    const launch = (): Promise<ChildProcess> =>
      new Promise((resolve, reject) => {
        const p = spawn(process.execPath, [START], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        out = '';
        p.stdout!.on('data', (d) => {
          out += d;
          if (out.includes('IM Charging is running')) resolve(p);
        });
        p.stderr!.on('data', (d) => (out += d));
        p.once('exit', (code) => reject(new Error(`launcher exited ${code}: ${out}`)));
      });
    const stop = async (p: ChildProcess) => {
      const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(p.pid)], { encoding: 'utf8' }).trim().split(/\s+/).map(Number).filter(Boolean);
      expect(children.length).toBeGreaterThanOrEqual(2); // charging-enabler and im-server
      const exited = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
      p.kill('SIGINT');
      expect(await exited).toBe(0);
      for (const c of children) expect(alive(c)).toBe(false);
    };

    const first = await launch();
    try {
      expect(out).toMatch(/seeded demo data/);
      expect(out).toContain(`web client    http://127.0.0.1:${imHttp}/client/`);
      const r = await retrieve({ sipWsUrl: `ws://127.0.0.1:${ws}`, aor: 'sip:bob@example.com', password: 'bob-password', expect: 3, timeoutMs: 10000 });
      expect(r.messages.map((m) => m.text)).toEqual(['Hi Bob, call me when you land.', 'Dinner at 8?', 'Your parcel is at the front desk.']);
      // the built enabler runs its CDR relay on a worker thread: the three debit CDRs reach JetStream
      const nc = await connect({ servers: process.env.NATS_URL });
      try {
        const jsm = await nc.jetstreamManager();
        const subject = `st${id}.ch2.cdr.debit`;
        let debits = 0;
        for (let i = 0; i < 200 && debits < 3; i++) {
          const info = await jsm.streams.info(`ST${id}`, { subjects_filter: subject }).catch(() => undefined);
          debits = Number((info?.state.subjects as Record<string, number> | undefined)?.[subject] ?? 0);
          if (debits < 3) await new Promise((res) => setTimeout(res, 25));
        }
        expect(debits).toBe(3);
        await jsm.streams.delete(`ST${id}`);
      } finally {
        await nc.close();
      }
    } finally {
      await stop(first);
    }
    // a second start finds the demo data and does not seed it again
    const second = await launch();
    try {
      expect(out).toMatch(/demo data already present/);
    } finally {
      await stop(second);
    }
  }, 60000);
});
