// The reliability suites (`npm run test:reliability`): fault injection and load against the
// built server and private PostgreSQL clusters. One suite at a time: each one loads the machine.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  testMatch: ['<rootDir>/apps/api/test/reliability/**/*.reliability.ts'],
  testTimeout: 180_000,
  maxWorkers: 1,
};
