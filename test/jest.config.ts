/** @jest-config-loader-options {"transpileOnly": true} */
import type { Config } from 'jest';

// Root config: `npx jest -c test/jest.config.ts` runs every project (unit, *.int.spec.ts, e2e, the bench's own logic).
const config: Config = {
  rootDir: '..',
  // Integration tests talk to a real broker and database; none asserts on time.
  testTimeout: 60_000,
  projects: [
    '<rootDir>/apps/*/jest.config.ts',
    '<rootDir>/libs/**/jest.config.ts',
    '<rootDir>/test/jest.e2e.config.ts',
    '<rootDir>/test/jest.bench.config.ts',
    '<rootDir>/deploy/jest.config.ts',
  ],
};

export default config;
