/**
 * Memory of the processes a benchmark measures (issue 16, item 4): RSS at the start of the load and at its end, and
 * after a full GC when the process exposes one — this process with `--expose-gc`, a service started by `nodeArgs()`
 * through its inspector (`HeapProfiler.collectGarbage`; nothing is changed in the services). Growth over 20 % from
 * start to end (after the GC when there is one) is flagged. A process tree (Kamailio) is measured by PSS. Prints a table; the rows go into the bench's JSON.
 */
import { readdirSync, readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { freePort } from '@imc/runtime';

export interface MemoryRow {
  process: string;
  startMiB: number;
  endMiB: number;
  /** RSS after a full GC at the end (undefined when the process exposes none). */
  afterGcMiB?: number;
  /** (afterGc ?? end) / start. */
  ratio: number;
  flagged: boolean;
}

const FLAG_OVER = 1.2;

/**
 * RSS in MiB of `pid`; with `tree`, the PSS of it and all its descendants (Kamailio's workers share one big mapping
 * of shared memory, which RSS would count once per process); 0 when gone.
 */
export function rssOf(pid: number, tree = false): number {
  const kb = (p: number, field: 'VmRSS' | 'Pss') => {
    try {
      const text = readFileSync(`/proc/${p}/${field === 'Pss' ? 'smaps_rollup' : 'status'}`, 'utf8');
      return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    } catch {
      return 0;
    }
  };
  if (!tree) return +(kb(pid, 'VmRSS') / 1024).toFixed(1);
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      parent.set(Number(d), Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const under = (p: number, depth = 0): boolean => p === pid || (depth < 64 && parent.has(p) && under(parent.get(p)!, depth + 1));
  let total = 0;
  for (const p of parent.keys()) if (under(p)) total += kb(p, 'Pss');
  return +(total / 1024).toFixed(1);
}

/** Node flags for a service the bench starts: an inspector on a free 127.0.0.1 port, used only to trigger a GC. */
export async function inspectorArgs(): Promise<{ args: string[]; port: number }> {
  const port = await freePort();
  return { args: [`--inspect=127.0.0.1:${port}`], port };
}

/** A DevTools protocol session with the Node process whose inspector listens on 127.0.0.1:`port`. */
export class InspectorSession {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as { id?: number; result?: unknown; error?: { message: string } };
      const p = m.id === undefined ? undefined : this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id!);
      if (m.error) p.reject(new Error(m.error.message));
      else p.resolve(m.result);
    });
  }

  static async open(port: number): Promise<InspectorSession> {
    const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
    const ws = new WebSocket(list[0].webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return new InspectorSession(ws);
  }

  call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.ws.close();
  }
}

/** A full GC in the Node process whose inspector listens on `port`; false when it cannot be reached. */
export async function gcThroughInspector(port: number): Promise<boolean> {
  try {
    const s = await InspectorSession.open(port);
    await s.call('HeapProfiler.collectGarbage');
    s.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts V8's CPU profiler in the process behind `port`; the returned function stops it and gives the profile
 * (a .cpuprofile JSON): a profile of the measured window only, without start-up and provisioning.
 */
export async function profileThroughInspector(port: number): Promise<() => Promise<unknown>> {
  const s = await InspectorSession.open(port);
  await s.call('Profiler.enable');
  await s.call('Profiler.setSamplingInterval', { interval: 200 });
  await s.call('Profiler.start');
  return async () => {
    const { profile } = await s.call<{ profile: unknown }>('Profiler.stop');
    s.close();
    return profile;
  };
}

interface Tracked {
  name: string;
  pid: number;
  tree: boolean;
  inspectorPort?: number;
  start?: number;
}

/** The processes one bench measures; `start()` when the load begins, `end()` when it stops. */
export class MemoryWatch {
  private readonly tracked: Tracked[] = [];
  readonly rows: MemoryRow[] = [];

  /** `inspectorPort`: the process's inspector (see inspectorArgs) for a GC at the end; `tree`: count descendants. */
  track(name: string, pid: number, o: { inspectorPort?: number; tree?: boolean } = {}): this {
    this.tracked.push({ name, pid, tree: !!o.tree, inspectorPort: o.inspectorPort });
    return this;
  }

  /** This process (the load generator, or an in-process bench); GC when run with --expose-gc. */
  trackSelf(name = 'bench process'): this {
    return this.track(name, process.pid);
  }

  start(): void {
    for (const t of this.tracked) t.start = rssOf(t.pid, t.tree);
  }

  async end(): Promise<MemoryRow[]> {
    for (const t of this.tracked) {
      const endMiB = rssOf(t.pid, t.tree);
      let afterGcMiB: number | undefined;
      if (t.pid === process.pid && typeof global.gc === 'function') {
        global.gc();
        afterGcMiB = rssOf(t.pid);
      } else if (t.inspectorPort && (await gcThroughInspector(t.inspectorPort))) {
        afterGcMiB = rssOf(t.pid, t.tree);
      }
      const startMiB = t.start ?? endMiB;
      const ratio = +((afterGcMiB ?? endMiB) / Math.max(startMiB, 0.1)).toFixed(2);
      this.rows.push({ process: t.name, startMiB, endMiB, afterGcMiB, ratio, flagged: ratio > FLAG_OVER });
    }
    return this.rows;
  }

  print(title: string): void {
    console.log(`\n${title} — memory (RSS, MiB; start = load begins, end = load stops; ⚠ = grew over ${Math.round((FLAG_OVER - 1) * 100)} %)\n`);
    console.log('| process | start | end | end after GC | end / start | |');
    console.log('|---|---:|---:|---:|---:|---|');
    for (const r of this.rows) console.log(`| ${r.process} | ${r.startMiB} | ${r.endMiB} | ${r.afterGcMiB ?? '—'} | ${r.ratio} | ${r.flagged ? '⚠ over 20 %' : ''} |`);
  }
}
