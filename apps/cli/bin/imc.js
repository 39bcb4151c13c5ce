#!/usr/bin/env node
// The imc command (built by `npm run build` into dist/).
require('../../../dist/apps/cli/src/main.js').cli();
