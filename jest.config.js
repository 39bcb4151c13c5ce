/** Jest: unit tests beside the source (*.spec.ts), integration and end-to-end tests under test/ (*.test.ts).
 * Type checking is done once by `npm run typecheck`; ts-jest only transpiles (isolatedModules) to keep the suite fast.
 * Redis and NATS are found or started once by test/support/jest-global-setup.ts. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
  testRegex: '(\\.spec|\\.test)\\.ts$',
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
    // sip.js ships ES modules only; Jest's CommonJS runtime needs them transformed.
    '^.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022', isolatedModules: true }, diagnostics: false }],
  },
  transformIgnorePatterns: ['/node_modules/(?!sip\\.js/)'],
  moduleNameMapper: {
    '^@imc/(sip-node|msrp-node|retrieval-client|sip|msrp|ch2|runtime)$': '<rootDir>/libs/$1/src',
    '^@imc/(sip-node|msrp-node|retrieval-client|sip|msrp|ch2|runtime)/(.*)$': '<rootDir>/libs/$1/src/$2',
  },
  globalSetup: '<rootDir>/test/support/jest-global-setup.ts',
  globalTeardown: '<rootDir>/test/support/jest-global-teardown.ts',
  testTimeout: 30000,
  maxWorkers: 2,
};
