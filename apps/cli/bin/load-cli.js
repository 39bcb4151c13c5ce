/**
 * Where the `imc` command's code comes from (`npx imc` right after `npm ci`, operations.md "CLI"):
 * - a source checkout — apps/cli/src present and esbuild (a devDependency) installed: the TypeScript sources,
 *   bundled by esbuild into node_modules/.cache/imc/imc.js on first use and again whenever one of the files it was
 *   built from changed (about a tenth of a second), so it works before any build and never runs a stale one;
 * - otherwise (an image, an install without devDependencies): the build, dist/apps/cli/src/main.js.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** Whether the bundle is older than any file it was built from (or than the list of them), or missing. */
function stale(root, out, inputsFile) {
  let built;
  try {
    built = fs.statSync(out).mtimeMs;
    const inputs = JSON.parse(fs.readFileSync(inputsFile, 'utf8'));
    return inputs.some((f) => fs.statSync(path.resolve(root, f)).mtimeMs > built);
  } catch {
    return true;
  }
}

/** Bundles the CLI's sources when the cached bundle is stale; returns the bundle, or undefined when it cannot. */
function fromSources(root) {
  const entry = path.join(root, 'apps', 'cli', 'src', 'main.ts');
  if (!fs.existsSync(entry)) return undefined;
  let esbuild;
  try {
    esbuild = require(require.resolve('esbuild', { paths: [root] }));
  } catch {
    return undefined;
  }
  const dir = path.join(root, 'node_modules', '.cache', 'imc');
  const out = path.join(dir, 'imc.js');
  const inputsFile = path.join(dir, 'inputs.json');
  if (!stale(root, out, inputsFile)) return out;
  const result = esbuild.buildSync({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external', // resolved from node_modules at run time, as the build's output does
    tsconfig: path.join(root, 'tsconfig.json'), // the @imc/* paths
    metafile: true,
    write: false,
    logLevel: 'error',
  });
  try {
    fs.mkdirSync(dir, { recursive: true });
    // written aside and renamed: two first uses at once never read half a file
    const tmp = `${out}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, result.outputFiles[0].contents);
    fs.renameSync(tmp, out);
    const inputs = Object.keys(result.metafile.inputs).concat('tsconfig.json');
    fs.writeFileSync(`${inputsFile}.${process.pid}.tmp`, JSON.stringify(inputs));
    fs.renameSync(`${inputsFile}.${process.pid}.tmp`, inputsFile);
  } catch {
    return undefined; // a read-only tree: the build, if there is one
  }
  return out;
}

/** The file that holds the CLI (exports `run` and `cli`) for the project at `root`. */
function cliEntry(root = path.join(__dirname, '..', '..', '..')) {
  const bundled = fromSources(root);
  if (bundled) return { file: bundled, from: 'sources' };
  const built = path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js');
  if (fs.existsSync(built)) return { file: built, from: 'dist' };
  throw new Error(`cannot find the imc command's code under ${root}: run npm ci (it installs esbuild, which runs imc from the sources) or npm run build`);
}

module.exports = { cliEntry };
