// ESLint flat config. The file is a dotfile, so pass it explicitly: eslint --config .eslint.config.mjs
import nx from '@nx/eslint-plugin';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const svcs = ['registry', 'policy', 'budget', 'approval', 'trace', 'killswitch', 'gateway'];

const infraPackages = [
  '@nestjs/*',
  'kafkajs',
  'kafkajs/*',
  'pg',
  'pg/*',
  'typeorm',
  'typeorm/*',
  '@opentelemetry/*',
  'prom-client',
  'prom-client/*',
];

// A project's constraints all apply at once (every constraint whose source tag(s) it has).
const depConstraints = [
  // Layers (type:*)
  {
    sourceTag: 'type:contracts',
    onlyDependOnLibsWithTags: [],
    allowedExternalImports: ['@bufbuild/protobuf', '@bufbuild/protobuf/*'],
  },
  { sourceTag: 'type:kernel', onlyDependOnLibsWithTags: ['type:contracts'] },
  {
    sourceTag: 'type:domain',
    onlyDependOnLibsWithTags: ['type:contracts', 'type:kernel'],
    bannedExternalImports: infraPackages,
  },
  { sourceTag: 'type:platform', onlyDependOnLibsWithTags: ['type:contracts', 'type:kernel'] },
  {
    sourceTag: 'type:read-models',
    onlyDependOnLibsWithTags: ['type:contracts', 'type:kernel', 'type:platform', 'type:domain'],
  },
  {
    sourceTag: 'type:sdk',
    onlyDependOnLibsWithTags: ['type:contracts', 'type:kernel', 'type:platform'],
  },
  {
    sourceTag: 'type:app',
    onlyDependOnLibsWithTags: ['type:contracts', 'type:kernel', 'type:platform', 'type:domain', 'type:read-models'],
  },
  { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['*'] },
  { sourceTag: 'type:tooling', onlyDependOnLibsWithTags: ['*'] },
  // Scopes (scope:*): a service sees itself and shared code; shared libraries see only shared
  // code. e2e and deploy are scope:shared too but may depend on anything, hence allSourceTags.
  ...svcs.map((svc) => ({
    sourceTag: `scope:${svc}`,
    onlyDependOnLibsWithTags: [`scope:${svc}`, 'scope:shared'],
  })),
  ...['type:contracts', 'type:kernel', 'type:platform', 'type:sdk'].map((type) => ({
    allSourceTags: ['scope:shared', type],
    onlyDependOnLibsWithTags: ['scope:shared'],
  })),
];

export default defineConfig(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/coverage/**',
      '**/.warden/**',
      '**/.nx/**',
      'libs/contracts/src/gen/**',
    ],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js', '**/*.mjs', '**/*.cjs'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // NestJS: modules are empty decorated classes, and DI needs value (not type-only) imports.
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/consistent-type-imports': 'off',
      '@typescript-eslint/no-empty-object-type': ['error', { allowInterfaces: 'with-single-extends' }],
      // kafkajs is confined to the adapter files in libs/platform/src/kafka/kafkajs-*.ts.
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'kafkajs',
              message: 'Only libs/platform/src/kafka/kafkajs-*.ts may import kafkajs.',
            },
          ],
          patterns: [
            {
              group: ['kafkajs/*'],
              message: 'Only libs/platform/src/kafka/kafkajs-*.ts may import kafkajs.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['libs/platform/src/kafka/kafkajs-*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // The benchmark's floor is a bare kafkajs pipeline, measured against Warden; the protocol's
    // conformance test is an agent written with a raw Kafka client, not with Warden's port; the
    // access test probes the broker as any program holding a principal's password could.
    files: ['test/bench/**', 'test/e2e/protocol.e2e.spec.ts', 'test/e2e/access.e2e.spec.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['**/*.ts', '**/*.js', '**/*.mjs', '**/*.cjs'],
    // Jest configs are tooling, not project code (they import the `jest` types).
    ignores: ['**/jest.config.ts', '**/jest.*.config.ts', '**/jest.preset.js'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints,
        },
      ],
    },
  },
  {
    // Replay re-evaluates recorded requests with the policy's pure evaluation: this one adapter
    // file of trace may import the policy domain (docs/adr/0062).
    files: ['libs/trace/domain/src/replay/evaluator.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { enforceBuildableLibDependency: false, allow: ['@warden/policy-domain'], depConstraints },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        process: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
