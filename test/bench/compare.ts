/**
 * npm run bench:compare a.json b.json — two bench-results/summary.json files side by side: each ratio and the
 * figures behind it, with the change from a to b, and the machine each ran on.
 */
import { readFileSync } from 'node:fs';

type Json = Record<string, unknown>;

/** Every numeric leaf of `o` by its dotted path. */
function leaves(o: unknown, path = '', out = new Map<string, number>()): Map<string, number> {
  if (typeof o === 'number') out.set(path, o);
  else if (o && typeof o === 'object' && !Array.isArray(o)) for (const [k, v] of Object.entries(o)) leaves(v, path ? `${path}.${k}` : k, out);
  return out;
}

const [fa, fb] = process.argv.slice(2);
if (!fa || !fb) {
  console.error('usage: npm run bench:compare <a/summary.json> <b/summary.json>');
  process.exit(2);
}
const [a, b] = [fa, fb].map((f) => JSON.parse(readFileSync(f, 'utf8')) as Json);
const m = (s: Json) => s.machine as Json;
console.log(`\na: ${a.date} ${a.commit} — ${m(a).cpuModel} × ${m(a).cores}, Node ${m(a).node}, load ${(m(a).loadAverageAtStart as number[])?.[0]}`);
console.log(`b: ${b.date} ${b.commit} — ${m(b).cpuModel} × ${m(b).cores}, Node ${m(b).node}, load ${(m(b).loadAverageAtStart as number[])?.[0]}\n`);
console.log('| figure | a | b | b / a |');
console.log('|---|---:|---:|---:|');
for (const part of ['ratios', 'figures']) {
  const [la, lb] = [leaves(a[part], part), leaves(b[part], part)];
  for (const k of new Set([...la.keys(), ...lb.keys()])) {
    const [x, y] = [la.get(k), lb.get(k)];
    const change = x !== undefined && y !== undefined && x !== 0 ? (y / x).toFixed(2) : '—';
    console.log(`| ${k} | ${x ?? '—'} | ${y ?? '—'} | ${change} |`);
  }
}
