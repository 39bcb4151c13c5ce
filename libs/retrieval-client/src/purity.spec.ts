import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The page bundles this library: everything but the Node transports runs in a browser. */
describe('libs/retrieval-client stays browser-safe (but for its Node transports)', () => {
  const files = readdirSync(__dirname).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts') && !f.startsWith('node-'));
  it.each(files)('%s imports nothing from Node, nor the Node transports', (f) => {
    const imports = [...readFileSync(join(__dirname, f), 'utf8').matchAll(/^(?:import|export)\b[^;]*? from '([^']+)'/gm)].map((m) => m[1]);
    expect(imports.filter((i) => /^(node:|net$|tls$|http|ws$|@imc\/(msrp-node|sip-node|runtime))|node-msrp-transports/.test(i))).toEqual([]);
    expect(readFileSync(join(__dirname, f), 'utf8')).not.toMatch(/\bBuffer\.|process\./);
  });
});
