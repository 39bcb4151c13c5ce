/** Probes the benchmarks, the fuzz run and the failover run use on the service processes they start. */
import { readFileSync } from 'node:fs';

/** Resolves once `url` answers 2xx (a service's `/health/ready`); throws after `timeoutMs`. */
export async function waitHttp(url: string, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never became ready (${timeoutMs} ms)`);
}

/** Resident set size of a process in MiB, from /proc (0 when it is gone). */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}
