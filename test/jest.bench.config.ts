/** @jest-config-loader-options {"transpileOnly": true} */
import type { Config } from 'jest';

// Unit tests of the bench's own logic (test/bench/*.spec.ts): no broker, no timing.
const config: Config = {
  displayName: 'bench',
  preset: './jest.preset.js',
  testMatch: ['<rootDir>/bench/**/*.spec.ts'],
};

export default config;
