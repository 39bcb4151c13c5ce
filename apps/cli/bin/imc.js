#!/usr/bin/env node
// The imc command: from the sources in a checkout, from dist/ in a build (see load-cli.js).
let entry;
try {
  entry = require('./load-cli').cliEntry();
} catch (e) {
  process.stderr.write(`imc: ${e.message}\n`);
  process.exit(1);
}
require(entry.file).cli();
