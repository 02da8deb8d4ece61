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
  /*
   * Suites of the surfaces above storage, run once (on PostgreSQL): the browser suites (Swagger
   * UI, the dashboard), the operator CLI and the security suites drive the same HTTP and UI code
   * whichever database is behind it, and take a third of the run. What differs by storage (every
   * query and write, startup and shutdown, export and import) runs on both.
   */
  '<rootDir>/apps/api/test/browser/',
  '<rootDir>/apps/dashboard/test/',
  '<rootDir>/apps/api/test/cli.e2e.spec.ts',
  '<rootDir>/apps/api/test/security/',
  '<rootDir>/apps/api/test/otlp-hostile.e2e.spec.ts',
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
