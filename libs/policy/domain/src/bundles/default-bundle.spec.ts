import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileRules } from './compile';
import { digestOf } from './bundle-repository';
import { runBundleTests } from './bundle-tests';
import { parseBundleDocument } from './document';

describe('the default bundle in deploy/policies', () => {
  it('compiles and passes its own tests', () => {
    const doc = parseBundleDocument(
      readFileSync(join(__dirname, '../../../../../deploy/policies/default.bundle.json'), 'utf8'),
    );
    const bundle = compileRules({
      bundleId: doc.id,
      tenantId: 't',
      version: doc.version,
      digest: digestOf(doc),
      rules: doc.rules,
    });
    expect(runBundleTests(bundle, doc.tests)).toEqual([]);
    expect(doc.tests.length).toBeGreaterThanOrEqual(doc.rules.length);
  });
});
