/** Jest for the chaos suite (npm run test:chaos): its own servers and processes, one file at a time, never part of
 * `npm test` (files are *.chaos.ts). Same transforms and module names as the main config. */
const base = require('../../jest.config.js');

module.exports = {
  ...base,
  rootDir: '../..',
  roots: ['<rootDir>/test/chaos'],
  testRegex: '\\.chaos\\.ts$',
  globalSetup: undefined,
  globalTeardown: undefined,
  testTimeout: 300000,
  maxWorkers: 1,
};
