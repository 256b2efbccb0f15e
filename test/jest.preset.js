// Shared Jest preset (CommonJS), used through Jest's `preset` option by every jest.config.ts
// (a path, not an import: an import would make every project depend on the e2e project in Nx).
// TypeScript is compiled by @swc/jest with the repo's .swcrc (decorator metadata for NestJS and
// the @warden/* path aliases), passed explicitly with `swcrc: false` so swc does not look it up again.
const fs = require('node:fs');
const path = require('node:path');

const workspaceRoot = path.resolve(__dirname, '..');
const swcJest = require.resolve('@swc/jest');

// ESM-only packages under node_modules that Jest must transform to CommonJS.
const esmPackages = ['@marcbachmann', 'jose'];

const { $schema: _schema, ...swcrc } = JSON.parse(fs.readFileSync(path.join(workspaceRoot, '.swcrc'), 'utf8'));
const tsOptions = {
  ...swcrc,
  swcrc: false,
  jsc: { ...swcrc.jsc, baseUrl: path.resolve(workspaceRoot, swcrc.jsc.baseUrl ?? '.') },
};
const jsOptions = {
  swcrc: false,
  sourceMaps: 'inline',
  module: { type: 'commonjs' },
  jsc: { target: swcrc.jsc.target, parser: { syntax: 'ecmascript' } },
};

// The same aliases for jest.mock('@warden/...') and other specifiers swc does not rewrite.
const moduleNameMapper = {};
for (const [alias, [target]] of Object.entries(swcrc.jsc.paths ?? {})) {
  const escaped = alias.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  moduleNameMapper[`^${escaped}$`] = path.resolve(tsOptions.jsc.baseUrl, target);
}

/** @type {import('jest').Config} */
const preset = {
  testEnvironment: 'node',
  testMatch: ['**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/\\.warden/'],
  transform: {
    '^.+\\.ts$': [swcJest, tsOptions],
    '^.+\\.(m|c)?js$': [swcJest, jsOptions],
  },
  transformIgnorePatterns: [`node_modules/(?!(${esmPackages.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json', 'node'],
  moduleNameMapper,
};

module.exports = preset;
