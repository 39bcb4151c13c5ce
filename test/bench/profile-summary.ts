/**
 * node dist/test/bench/profile-summary.js <file.cpuprofile> [top] — where a V8 CPU profile's time goes (the
 * profiles BENCH_PROFILE=1 writes to bench-results/): self time by area (our libraries and apps by folder, npm
 * packages by name, Node internals, GC, idle) and the top self-time functions.
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The area a frame belongs to: libs/<x>, apps/<x>/<dir>, an npm package, node:<module>, or V8's own entries. */
export function areaOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : `V8 builtin`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm ${pkg[1]}`;
  const ours = /dist\/((?:libs|apps)\/[^/]+(?:\/src\/[^/.]+)?)/.exec(url);
  if (ours) return ours[1].replace('/src', '');
  const node = /^node:([^/]+(?:\/[^/]+)?)/.exec(url);
  if (node) return `node:${node[1]}`;
  return url.split('/').slice(-2).join('/');
}

function main(): void {
  const [file, topArg] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node dist/test/bench/profile-summary.js <file.cpuprofile> [top]');
    process.exit(2);
  }
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const busy = [...self.entries()].filter(([id]) => byId.get(id)!.callFrame.functionName !== '(idle)').reduce((a, [, t]) => a + t, 0);
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, t] of self) {
    const f = byId.get(id)!.callFrame;
    const area = areaOf(f.url, f.functionName);
    areas.set(area, (areas.get(area) ?? 0) + t);
    const key = `${f.functionName || '(anonymous)'} — ${area}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + t);
  }
  const pc = (t: number) => `${((100 * t) / busy).toFixed(1)} %`;
  console.log(`\n${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s not idle (percentages are of that)\n`);
  console.log('| area | self ms | share |');
  console.log('|---|---:|---:|');
  for (const [a, t] of [...areas].filter(([a]) => a !== '(idle)').sort((x, y) => y[1] - x[1]).slice(0, 25)) console.log(`| ${a} | ${Math.round(t / 1000)} | ${pc(t)} |`);
  console.log('\n| function (self time) | self ms | share |');
  console.log('|---|---:|---:|');
  for (const [f, t] of [...fns].filter(([f]) => !f.startsWith('(idle)')).sort((x, y) => y[1] - x[1]).slice(0, Number(topArg ?? 30))) console.log(`| ${f} | ${Math.round(t / 1000)} | ${pc(t)} |`);
}

if (require.main === module) main();
