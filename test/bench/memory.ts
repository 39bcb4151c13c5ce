/**
 * Memory of the processes a benchmark measures (issue 16, item 4): RSS at the start of the load and at its end, and
 * after a full GC when the process exposes one — this process with `--expose-gc`, a service started by `nodeArgs()`
 * through its inspector (`HeapProfiler.collectGarbage`; nothing is changed in the services). Growth over 20 % from
 * start to end (after the GC when there is one) is flagged. Prints a table; the rows go into the bench's JSON.
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

/** RSS in MiB of `pid` and, with `tree`, of all its descendants (Kamailio's workers); 0 when gone. */
export function rssOf(pid: number, tree = false): number {
  const kb = (p: number) => {
    try {
      return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      return 0;
    }
  };
  let total = kb(pid);
  if (tree) {
    const parent = new Map<number, number>();
    for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      try {
        parent.set(Number(d), Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1]));
      } catch {
        /* gone */
      }
    }
    const under = (p: number): boolean => p === pid || (parent.has(p) && p !== 1 && under(parent.get(p)!));
    for (const p of parent.keys()) if (p !== pid && under(p)) total += kb(p);
  }
  return +(total / 1024).toFixed(1);
}

/** Node flags for a service the bench starts: an inspector on a free 127.0.0.1 port, used only to trigger a GC. */
export async function inspectorArgs(): Promise<{ args: string[]; port: number }> {
  const port = await freePort();
  return { args: [`--inspect=127.0.0.1:${port}`], port };
}

/** A full GC in the Node process whose inspector listens on `port`; false when it cannot be reached. */
export async function gcThroughInspector(port: number): Promise<boolean> {
  try {
    const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
    const ws = new WebSocket(list[0].webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (d) => {
        if ((JSON.parse(String(d)) as { id?: number }).id === 1) resolve();
      });
      ws.once('error', reject);
      ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    });
    ws.close();
    return true;
  } catch {
    return false;
  }
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
