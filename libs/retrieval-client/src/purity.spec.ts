import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The page bundles this library: everything but src/node/ runs in a browser. */
describe('libs/retrieval-client stays browser-safe (but for src/node/)', () => {
  const files = readdirSync(__dirname).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts')); // src/node/ is not read
  it.each(files)('%s imports nothing from Node, nor src/node/', (f) => {
    const imports = [...readFileSync(join(__dirname, f), 'utf8').matchAll(/^(?:import|export)\b[^;]*? from '([^']+)'/gm)].map((m) => m[1]);
    expect(imports.filter((i) => /^(node:|net$|tls$|http|ws$|@imc\/(msrp-node|sip-node|runtime))|\/node($|\/)/.test(i))).toEqual([]);
    expect(readFileSync(join(__dirname, f), 'utf8')).not.toMatch(/\bBuffer\.|process\./);
  });
});
