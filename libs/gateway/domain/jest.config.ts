/** @jest-config-loader-options {"transpileOnly": true} */
import type { Config } from 'jest';

const config: Config = {
  displayName: 'gateway-domain',
  preset: '../../../test/jest.preset.js',
};

export default config;
