import { CompiledBundle } from './api';
import { BundleTestCase } from './document';
import { bundleVerdict, firedRules, ruleInputOf } from './verdict';

/** A bundle test case that did not hold, with what happened instead. */
export interface BundleTestFailure {
  readonly name: string;
  readonly expectedVerdict: string;
  readonly actualVerdict: string;
  readonly expectedRules?: readonly string[];
  readonly actualRules: readonly string[];
  readonly errors: readonly string[];
}

/** Runs a bundle's own test cases against its compiled rules (as `opa test` does); returns the failures. */
export function runBundleTests(bundle: CompiledBundle, tests: readonly BundleTestCase[]): BundleTestFailure[] {
  const failures: BundleTestFailure[] = [];
  for (const test of tests) {
    const verdicts = bundle.evaluate(ruleInputOf(test.input));
    const fired = firedRules(verdicts);
    const actualVerdict = bundleVerdict(verdicts);
    const actualRules = fired.map((v) => v.ruleId);
    const errors = fired.filter((v) => v.result === 'error').map((v) => v.reason);
    const expected = test.expect.rules;
    const rulesHold =
      expected === undefined ||
      (expected.length === actualRules.length && expected.every((id) => actualRules.includes(id)));
    if (actualVerdict !== test.expect.verdict || !rulesHold) {
      failures.push({
        name: test.name,
        expectedVerdict: test.expect.verdict,
        actualVerdict,
        ...(expected ? { expectedRules: expected } : {}),
        actualRules,
        errors,
      });
    }
  }
  return failures;
}

export function describeTestFailure(f: BundleTestFailure): string {
  const rules = f.expectedRules ? `, rules [${f.expectedRules.join(', ')}]` : '';
  const errors = f.errors.length > 0 ? ` (${f.errors.join('; ')})` : '';
  return `test "${f.name}": expected ${f.expectedVerdict}${rules}, got ${f.actualVerdict}, rules [${f.actualRules.join(', ')}]${errors}`;
}
