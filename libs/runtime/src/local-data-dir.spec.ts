import { ChildProcess, spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirInUseError, LocalDataDir } from './local-data-dir';

/** A process that waits, with `marker` on its command line (as a server names its data directory). */
function idle(marker: string): Promise<ChildProcess> {
  const p = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', marker], { stdio: 'ignore' });
  return new Promise((resolve) => p.once('spawn', () => resolve(p)));
}
const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));

describe('LocalDataDir', () => {
  let dir: string;
  const started: ChildProcess[] = [];
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'imc-datadir-'))));
  afterEach(() => {
    for (const p of started.splice(0)) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('remembers the ports for the next start and forgets the pids when released', async () => {
    const d = new LocalDataDir(dir);
    await d.claim();
    d.record('redis', 23456, 111);
    d.record('nats', 23457, 222);
    d.release();
    expect(JSON.parse(readFileSync(join(dir, 'servers.json'), 'utf8'))).toEqual({ redis: { port: 23456 }, nats: { port: 23457 } });
    const next = new LocalDataDir(dir);
    await next.claim();
    expect([next.rememberedPort('redis'), next.rememberedPort('nats')]).toEqual([23456, 23457]);
  });

  it('refuses a directory another live launcher holds, and takes one whose launcher is gone', async () => {
    const other = await idle('start.js');
    started.push(other);
    const command = execFileSync('ps', ['-o', 'args=', '-p', String(other.pid)], { encoding: 'utf8' }).trim();
    writeFileSync(join(dir, 'servers.json'), JSON.stringify({ launcher: { pid: other.pid, command } }));
    await expect(new LocalDataDir(dir).claim()).rejects.toThrow(DataDirInUseError);
    other.kill('SIGKILL');
    await exited(other);
    await expect(new LocalDataDir(dir).claim()).resolves.toBeUndefined();
  });

  it("stops a server a killed launcher left on the directory's files, and leaves an unrelated process with a reused pid alone", async () => {
    const orphan = await idle(join(dir, 'redis'));
    const unrelated = await idle('something-else');
    started.push(orphan, unrelated);
    writeFileSync(join(dir, 'servers.json'), JSON.stringify({ redis: { port: 23456, pid: orphan.pid }, nats: { port: 23457, pid: unrelated.pid } }));
    const lines: string[] = [];
    await new LocalDataDir(dir).claim((l) => lines.push(l));
    await exited(orphan);
    expect(orphan.signalCode).toBe('SIGTERM');
    expect(unrelated.exitCode).toBeNull();
    expect(unrelated.signalCode).toBeNull();
    expect(lines).toEqual([`redis: stopping the server (pid ${orphan.pid}) a previous run left on ${dir}`]);
  });
});
