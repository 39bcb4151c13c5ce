/**
 * The data directory of the private Redis and NATS that `npm start` runs (IMC_DATA_DIR, default `.imc-data/` under
 * the project; operations.md "Commands"):
 *   redis/         Redis's append-only file (appendonly yes, appendfsync always — as deploy/redis/redis.conf)
 *   nats/          the JetStream store (as store_dir in deploy/nats/nats.conf)
 *   servers.json   the ports the servers listened on, so a second start answers at the same addresses, and the pids
 *                  of the launcher and servers running from this directory
 * The pids keep two launchers from sharing one directory, and let a start stop the servers a killed launcher left
 * running on these files before it starts new ones.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export type PrivateServer = 'redis' | 'nats';

export interface DataDirState {
  launcher?: { pid: number; command: string };
  redis?: { port: number; pid?: number };
  nats?: { port: number; pid?: number };
}

export class DataDirInUseError extends Error {
  constructor(readonly dir: string, readonly pid: number) {
    super(`the data directory ${dir} is in use by another npm start (pid ${pid}); stop it first, or set IMC_DATA_DIR to another directory`);
    this.name = 'DataDirInUseError';
  }
}

/** The command line of a running process (`ps`, which Linux and macOS both have), or undefined when none runs. */
function commandOf(pid: number): string | undefined {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  try {
    const out = execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return out || undefined;
  } catch {
    return undefined;
  }
}

async function terminate(pid: number, timeoutMs = 5000): Promise<void> {
  const gone = () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  };
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const until = Date.now() + timeoutMs;
  while (!gone() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  if (!gone()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

export class LocalDataDir {
  readonly path: string;
  readonly redisDir: string;
  readonly natsDir: string;
  readonly stateFile: string;
  private state: DataDirState = {};

  constructor(path: string) {
    this.path = resolve(path);
    this.redisDir = join(this.path, 'redis');
    this.natsDir = join(this.path, 'nats');
    this.stateFile = join(this.path, 'servers.json');
  }

  /**
   * Creates the directory, refuses it when another live launcher holds it, stops servers a killed launcher left on
   * its files, and records this process as its holder.
   */
  async claim(log: (line: string) => void = () => undefined): Promise<void> {
    mkdirSync(this.redisDir, { recursive: true });
    mkdirSync(this.natsDir, { recursive: true });
    this.state = this.read();
    const holder = this.state.launcher;
    if (holder && holder.pid !== process.pid && commandOf(holder.pid) === holder.command) throw new DataDirInUseError(this.path, holder.pid);
    for (const name of ['redis', 'nats'] as const) {
      const pid = this.state[name]?.pid;
      // a server of ours names this directory on its command line (--dir / -sd); a reused pid does not
      if (pid && commandOf(pid)?.includes(this.path)) {
        log(`${name}: stopping the server (pid ${pid}) a previous run left on ${this.path}`);
        await terminate(pid);
      }
      if (this.state[name]) delete this.state[name]!.pid;
    }
    this.state.launcher = { pid: process.pid, command: commandOf(process.pid) ?? '' };
    this.write();
  }

  /** The port `name` listened on in the previous run, if any. */
  rememberedPort(name: PrivateServer): number | undefined {
    return this.state[name]?.port;
  }

  record(name: PrivateServer, port: number, pid: number | undefined): void {
    this.state[name] = { port, pid };
    this.write();
  }

  /** After the servers stopped: forgets the pids, keeps the ports for the next start. */
  release(): void {
    delete this.state.launcher;
    for (const name of ['redis', 'nats'] as const) if (this.state[name]) delete this.state[name]!.pid;
    this.write();
  }

  private read(): DataDirState {
    try {
      const parsed = JSON.parse(readFileSync(this.stateFile, 'utf8')) as DataDirState;
      return parsed && typeof parsed === 'object' ? parsed : {};
    } catch {
      return {};
    }
  }

  private write(): void {
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.state, null, 2)}\n`);
    renameSync(tmp, this.stateFile);
  }
}
