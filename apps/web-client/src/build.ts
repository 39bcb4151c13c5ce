/**
 * Builds the browser client: bundles src/client.ts (sip.js + the browser-safe MSRP core) with esbuild into
 * `<outDir>/client.js` and copies public/index.html beside it. `npm run build` writes to WEB_CLIENT_DIR, the
 * directory the im-server serves at /client.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The project root: the nearest directory up from here with a package.json (works from src and from dist). */
function projectRoot(): string {
  let d = __dirname;
  while (!existsSync(join(d, 'package.json')) && dirname(d) !== d) d = dirname(d);
  return d;
}
const ROOT = projectRoot();
const SRC = join(ROOT, 'apps', 'web-client');

/** Where `npm run build` puts the built client (dist/apps/web-client/public). */
export const WEB_CLIENT_DIR = join(ROOT, 'dist', 'apps', 'web-client', 'public');

export async function buildWebClient(outDir = WEB_CLIENT_DIR, minify = true): Promise<string> {
  // esbuild is a devDependency: loaded only when building
  const esbuild = await import('esbuild');
  mkdirSync(outDir, { recursive: true });
  await esbuild.build({
    entryPoints: [join(SRC, 'src', 'client.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2020'],
    minify,
    sourcemap: false,
    tsconfig: join(ROOT, 'tsconfig.json'),
    outfile: join(outDir, 'client.js'),
    logLevel: 'error',
  });
  copyFileSync(join(SRC, 'public', 'index.html'), join(outDir, 'index.html'));
  return outDir;
}

if (require.main === module) {
  buildWebClient().then(
    (d) => process.stdout.write(`web client built in ${d}\n`),
    (e: Error) => {
      process.stderr.write(`web client build failed: ${e.message}\n`);
      process.exit(1);
    },
  );
}
