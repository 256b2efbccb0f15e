import {
  create,
  PolicyBundleActivatedSchema,
  PolicyBundleRolledBackSchema,
  RuleEffect,
  ShadowBundleClearedSchema,
  ShadowBundleSetSchema,
} from '@warden/contracts';
import { given } from '@warden/kernel';
import {
  activeVersionAt,
  BundleCommand,
  BundleEvent,
  BundleRejected,
  bundleRepository,
  digestOf,
} from './bundle-repository';
import { diffBundles } from './diff';
import { BundleDocument, parseBundleDocument } from './document';

const T0 = 1_763_700_000_000;
const admin = { tenantId: 't1', by: 'alice', roles: ['admin'], now: T0 };

const doc = (version: string, over: Partial<Record<string, unknown>> = {}): BundleDocument =>
  parseBundleDocument({
    id: 'default',
    version,
    description: 'guardrails',
    rules: [
      { id: 'no-rm', when: 'request.tool == "rm"', effect: 'deny', risk: 90, reason: 'rm is not allowed' },
      { id: 'prod', when: 'request.environment == "prod"', effect: 'require_approval', risk: 50, reason: 'prod' },
    ],
    tests: [
      {
        name: 'rm is denied',
        input: { request: { tool: 'rm', environment: 'dev' } },
        expect: { verdict: 'deny', rules: ['no-rm'] },
      },
      {
        name: 'search is allowed',
        input: { request: { tool: 'search', environment: 'dev' } },
        expect: { verdict: 'allow' },
      },
    ],
    ...over,
  });

const publish = (d: BundleDocument, extra: Partial<typeof admin> = {}): BundleCommand => ({
  type: 'PublishBundle',
  ...admin,
  ...extra,
  document: d,
  source: JSON.stringify(d),
});

const published = (version: string, d = doc(version)) =>
  given(bundleRepository).when(publish(d)).thenEvents()[0] as BundleEvent;

const activated = (version: string, effectiveAtMs: number, activatedAtMs = T0) =>
  create(PolicyBundleActivatedSchema, {
    bundleId: 'default',
    tenantId: 't1',
    version,
    activatedBy: 'alice',
    activatedAtMs,
    effectiveAtMs,
  });

describe('the bundle repository decider', () => {
  it('given no bundle, when an admin publishes one whose tests pass, then PolicyBundlePublished carries rules, tests, source and digest', () => {
    const d = doc('1.0.0');
    const [event] = given(bundleRepository).when(publish(d)).thenEvents();
    expect(event).toMatchObject({
      $typeName: 'warden.policy.v1.PolicyBundlePublished',
      bundleId: 'default',
      tenantId: 't1',
      version: '1.0.0',
      description: 'guardrails',
      digest: digestOf(d),
      publishedBy: 'alice',
      publishedAtMs: T0,
      source: JSON.stringify(d),
    });
    if (event.$typeName !== 'warden.policy.v1.PolicyBundlePublished') throw new Error('type');
    expect(event.rules.map((r) => [r.id, r.effect, r.risk])).toEqual([
      ['no-rm', RuleEffect.DENY, 90],
      ['prod', RuleEffect.REQUIRE_APPROVAL, 50],
    ]);
    expect(event.tests.map((t) => [t.name, t.expectVerdict, t.checkRules, t.expectRules])).toEqual([
      ['rm is denied', RuleEffect.DENY, true, ['no-rm']],
      ['search is allowed', RuleEffect.ALLOW, false, []],
    ]);
    expect(event.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('given a bundle whose tests fail, when published, then it is refused listing each failing case', () => {
    const failing = doc('1.0.0', {
      tests: [
        {
          name: 'rm is allowed?',
          input: { request: { tool: 'rm', environment: 'dev' } },
          expect: { verdict: 'allow' },
        },
        {
          name: 'prod matches two rules?',
          input: { request: { tool: 'ls', environment: 'prod' } },
          expect: { verdict: 'require_approval', rules: ['prod', 'no-rm'] },
        },
        { name: 'fine', input: { request: { tool: 'ls', environment: 'dev' } }, expect: { verdict: 'allow' } },
      ],
    });
    const error = given(bundleRepository)
      .when(publish(failing))
      .thenThrows('invalid', 'bundle_tests_failed') as BundleRejected;
    expect(error.field).toBe('tests');
    expect(error.testFailures).toEqual([
      { name: 'rm is allowed?', expectedVerdict: 'allow', actualVerdict: 'deny', actualRules: ['no-rm'], errors: [] },
      {
        name: 'prod matches two rules?',
        expectedVerdict: 'require_approval',
        actualVerdict: 'require_approval',
        expectedRules: ['prod', 'no-rm'],
        actualRules: ['prod'],
        errors: [],
      },
    ]);
    expect(error.message).toMatch(/^2 of 3 bundle tests failed: test "rm is allowed\?": expected allow, got deny/);
  });

  it('given a rule with a CEL error, when published, then it is refused naming the rule, its field and the position', () => {
    const broken = doc('1.0.0', {
      rules: [
        { id: 'ok', when: 'true', effect: 'allow' },
        { id: 'typo', when: 'request.tool == "a" &&& true', effect: 'deny' },
        { id: 'types', when: 'now + "x" == "y"', effect: 'deny' },
      ],
      tests: [],
    });
    const error = given(bundleRepository).when(publish(broken)).thenThrows('invalid', 'cel_error') as BundleRejected;
    expect(error.field).toBe('rules[1].when');
    expect(error.compileErrors.map((e) => [e.ruleId, e.position.line, e.position.column])).toEqual([
      ['typo', 1, 23],
      ['types', 1, 1],
    ]);
    expect(error.message).toMatch(/rule typo \(line 1, column 23\)/);
  });

  it('refuses a non-admin, a version published twice and another bundle id', () => {
    given(bundleRepository)
      .when(publish(doc('1'), { roles: ['sre'] }))
      .thenThrows('forbidden', 'role_required');
    given(bundleRepository, [published('1')])
      .when(publish(doc('1')))
      .thenThrows('conflict', 'version_exists');
    given(bundleRepository, [published('1')])
      .when(publish(doc('2', { id: 'other' })))
      .thenThrows('conflict', 'bundle_id_mismatch');
  });

  it('given a published version, when activated at a future time, then it takes effect only when the clock passes it', () => {
    const history = [published('1')];
    given(bundleRepository, history)
      .when({ type: 'ActivateBundle', ...admin, version: '1', effectiveAtMs: T0 + 60_000 })
      .then([activated('1', T0 + 60_000)]);
    const state = given(bundleRepository, [...history, activated('1', T0 + 60_000)]).state;
    expect(activeVersionAt(state, T0 + 59_999)).toBe('');
    expect(activeVersionAt(state, T0 + 60_000)).toBe('1');
  });

  it('activation with no time takes effect at once; unknown versions and past times are refused', () => {
    given(bundleRepository, [published('1')])
      .when({ type: 'ActivateBundle', ...admin, version: '1', effectiveAtMs: 0 })
      .then([activated('1', T0)]);
    given(bundleRepository, [published('1')])
      .when({ type: 'ActivateBundle', ...admin, version: '9', effectiveAtMs: 0 })
      .thenThrows('not_found');
    given(bundleRepository, [published('1')])
      .when({ type: 'ActivateBundle', ...admin, version: '1', effectiveAtMs: T0 - 1 })
      .thenThrows('invalid', 'activation_in_past');
    given(bundleRepository, [published('1')])
      .when({ type: 'ActivateBundle', ...admin, roles: ['auditor'], version: '1', effectiveAtMs: 0 })
      .thenThrows('forbidden');
  });

  it('given versions 1, 2, 3 with 3 active, when rolled back to 1, then 1 is active at once and later scheduled activations are cancelled', () => {
    const history = [
      published('1'),
      published('2'),
      published('3'),
      activated('3', T0 - 10),
      activated('2', T0 + 1_000),
    ];
    const now = T0 + 10;
    given(bundleRepository, history)
      .when({ type: 'RollBackBundle', ...admin, now, toVersion: '1', reason: 'v3 denies too much' })
      .then([
        create(PolicyBundleRolledBackSchema, {
          bundleId: 'default',
          tenantId: 't1',
          fromVersion: '3',
          toVersion: '1',
          rolledBackBy: 'alice',
          rolledBackAtMs: now,
          reason: 'v3 denies too much',
        }),
      ]);
    const [rolledBack] = given(bundleRepository, history)
      .when({ type: 'RollBackBundle', ...admin, now, toVersion: '1', reason: 'v3 denies too much' })
      .thenEvents();
    const state = given(bundleRepository, [...history, rolledBack]).state;
    expect(activeVersionAt(state, now)).toBe('1');
    expect(activeVersionAt(state, T0 + 5_000)).toBe('1');
  });

  it('rollback needs an active version, an earlier target and a reason', () => {
    given(bundleRepository, [published('1')])
      .when({ type: 'RollBackBundle', ...admin, toVersion: '1', reason: 'x' })
      .thenThrows('conflict', 'nothing_active');
    const active2 = [published('1'), published('2'), activated('2', T0)];
    given(bundleRepository, active2)
      .when({ type: 'RollBackBundle', ...admin, toVersion: '2', reason: 'x' })
      .thenThrows('conflict', 'not_earlier');
    given(bundleRepository, active2)
      .when({ type: 'RollBackBundle', ...admin, toVersion: '1', reason: ' ' })
      .thenThrows('invalid', 'reason_required');
    given(bundleRepository, active2)
      .when({ type: 'RollBackBundle', ...admin, toVersion: '0', reason: 'x' })
      .thenThrows('not_found');
  });

  it('sets and clears a shadow candidate', () => {
    const set = create(ShadowBundleSetSchema, {
      bundleId: 'default',
      tenantId: 't1',
      version: '2',
      setBy: 'alice',
      setAtMs: T0,
    });
    given(bundleRepository, [published('1'), published('2')])
      .when({ type: 'SetShadowBundle', ...admin, version: '2' })
      .then([set]);
    expect(given(bundleRepository, [published('1'), published('2'), set]).state.shadow).toBe('2');
    given(bundleRepository, [published('1'), published('2'), set])
      .when({ type: 'ClearShadowBundle', ...admin })
      .then([
        create(ShadowBundleClearedSchema, {
          bundleId: 'default',
          tenantId: 't1',
          version: '2',
          clearedBy: 'alice',
          clearedAtMs: T0,
        }),
      ]);
    given(bundleRepository, [published('1')])
      .when({ type: 'ClearShadowBundle', ...admin })
      .thenThrows('conflict', 'no_shadow');
    given(bundleRepository, [published('1')])
      .when({ type: 'SetShadowBundle', ...admin, version: '7' })
      .thenThrows('not_found');
  });

  it('evolve ignores a second publish of a version and events for unknown versions', () => {
    const once = given(bundleRepository, [published('1')]).state;
    expect(bundleRepository.evolve(once, published('1'))).toBe(once);
    expect(bundleRepository.evolve(once, activated('5', T0))).toBe(once);
  });
});

describe('diffing bundle versions', () => {
  it('lists added, removed and changed rules with the fields that changed', () => {
    const from = doc('1');
    const to = doc('2', {
      rules: [
        { id: 'no-rm', when: 'request.tool in ["rm", "dd"]', effect: 'deny', risk: 95, reason: 'rm is not allowed' },
        { id: 'spend', when: 'request.estimatedTokens > 1000', effect: 'require_approval' },
      ],
      tests: [],
    });
    const diff = diffBundles(from, to);
    expect(diff.added.map((r) => r.id)).toEqual(['spend']);
    expect(diff.removed.map((r) => r.id)).toEqual(['prod']);
    expect(diff.changed.map((c) => [c.ruleId, c.fields])).toEqual([['no-rm', ['when', 'risk']]]);
    expect(diff.unchanged).toBe(0);
    expect(diffBundles(from, from)).toMatchObject({ added: [], removed: [], changed: [], unchanged: 2 });
  });
});
