// Jest runs in ESM mode (NestJS 12 ships ESM only): `npm test` sets --experimental-vm-modules.

/**
 * Suites whose outcome does not depend on which database the tests use: unit specs, checks of
 * the committed files, and the benchmark smoke run (always on the local PostgreSQL). CI runs
 * `npm test` once per database; with XRAY_TEST_DATABASE_SUITES_ONLY=1 (its second pass) these
 * are left out, having run in the first.
 */
const DATABASE_INDEPENDENT = [
  '<rootDir>/apps/api/src/',
  '<rootDir>/libs/sdk/src/',
  '<rootDir>/apps/api/test/typecheck.spec.ts',
  '<rootDir>/apps/api/test/openapi-examples.spec.ts',
  '<rootDir>/libs/sdk/test/generated.spec.ts',
  '<rootDir>/libs/sdk/test/package.spec.ts',
  '<rootDir>/bench/bench.smoke.spec.ts',
];
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // Tests use the SDK from source, so they need no build first.
    '^@xray-sys/sdk$': '<rootDir>/libs/sdk/src/index.ts',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  testMatch: ['<rootDir>/apps/**/*.spec.ts', '<rootDir>/libs/**/*.spec.ts', '<rootDir>/bench/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', ...(process.env.XRAY_TEST_DATABASE_SUITES_ONLY === '1' ? DATABASE_INDEPENDENT : [])],
  testTimeout: 60_000,
  maxWorkers: 2,
};
