#!/usr/bin/env node
// Build step: copies the non-TypeScript files the services load at run time (Lua scripts, static web files)
// from the source tree into dist/, keeping their relative paths. A `lua` folder is mirrored: a script renamed or
// removed in the sources (the key count is part of its name) must not linger in dist/ and be loaded too.
const { cpSync, existsSync, readdirSync, statSync, mkdirSync, rmSync } = require('node:fs');
const { join, dirname, relative } = require('node:path');

const root = join(__dirname, '..', '..');
const ASSET = /\.(lua|html|css|svg|png|ico|js)$/;
const ROOTS = ['apps', 'libs'];
const SKIP = new Set(['node_modules', 'dist', 'test-fixtures']);

function walk(dir, inAssets) {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name === 'lua') rmSync(join(root, 'dist', relative(root, p)), { recursive: true, force: true });
      walk(p, inAssets || name === 'lua' || name === 'public');
    } else if (inAssets && ASSET.test(name)) {
      const out = join(root, 'dist', relative(root, p));
      mkdirSync(dirname(out), { recursive: true });
      cpSync(p, out);
    }
  }
}
for (const r of ROOTS) if (existsSync(join(root, r))) walk(join(root, r), false);
