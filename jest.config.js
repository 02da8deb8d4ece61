// Jest runs in ESM mode (NestJS 12 ships ESM only): `npm test` sets --experimental-vm-modules.

/**
 * CI runs `npm test` twice: on PostgreSQL, everything; then, with XRAY_TEST_DATABASE_SUITES_ONLY=1,
 * on the embedded default, the suites whose outcome depends on the storage behind the API: every
 * query and write path, isolation between projects, the data's lifecycle, startup on each
 * storage. The rest (unit specs, checks of committed files, the benchmark smoke run, and the
 * surfaces above storage: the browser suites, the operator CLI, the security suites, auth and
 * keys, metrics, process lifecycle, the SDK and examples) drive the same code whichever database
 * is behind it, and run once, on PostgreSQL: so CI stays within its time.
 */
const STORAGE_SUITES = [
  'ingest',
  'ingest-grouped-updates',
  'runs',
  'steps-candidates',
  'queries',
  'pipelines',
  'previews-and-step-tree',
  'analytics-rollups',
  'llm-steps',
  'scores',
  'scores-reads',
  'otlp',
  'otlp-sdk',
  'auth-isolation',
  'lifecycle',
  'retention',
  'export-import',
  'partition-migration',
  'database',
  'faults',
  'startup',
].map((name) => `<rootDir>/apps/api/test/${name}.e2e.spec.ts`);

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
  testMatch:
    process.env.XRAY_TEST_DATABASE_SUITES_ONLY === '1'
      ? STORAGE_SUITES
      : ['<rootDir>/apps/**/*.spec.ts', '<rootDir>/libs/**/*.spec.ts', '<rootDir>/bench/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 60_000,
  maxWorkers: 2,
};
