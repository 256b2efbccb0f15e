/** @jest-config-loader-options {"transpileOnly": true} */
import type { Config } from 'jest';

// End-to-end suites, test/e2e/*.e2e.spec.ts, and the documentation's checks, test/docs/*.spec.ts (rootDir is test/).
const config: Config = {
  displayName: 'e2e',
  preset: './jest.preset.js',
  testMatch: ['<rootDir>/e2e/**/*.spec.ts', '<rootDir>/docs/**/*.spec.ts'],
};

export default config;
