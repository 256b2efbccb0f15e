/** @jest-config-loader-options {"transpileOnly": true} */
import type { Config } from 'jest';

// The Python SDK's pytest unit tests, run in its virtual environment by one Jest test (pytest.spec.ts).
const config: Config = {
  displayName: 'sdk-python',
  preset: '../../test/jest.preset.js',
  testMatch: ['<rootDir>/*.spec.ts'],
};

export default config;
