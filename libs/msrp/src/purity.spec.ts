import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** STYLE.md habit 1: the protocol core imports no sockets, Nest, Redis or NATS. */
describe('libs/msrp stays pure (and browser-safe)', () => {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.ts') && !f.endsWith('.spec.ts')) files.push(p);
    }
  };
  walk(__dirname);
  it.each(files.map((f) => [f.slice(__dirname.length + 1), f]))('%s imports nothing from the platform', (_n, f) => {
    const imports = [...readFileSync(f, 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    expect(imports.filter((i) => /^(node:|net$|dgram$|tls$|http|ws$|@nestjs|ioredis|nats)/.test(i))).toEqual([]);
    expect(readFileSync(f, 'utf8')).not.toMatch(/\bBuffer\./); // runs in browsers too
  });
});
