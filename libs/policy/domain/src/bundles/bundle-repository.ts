import { createHash } from 'node:crypto';
import {
  create,
  PolicyBundleActivated,
  PolicyBundleActivatedSchema,
  PolicyBundlePublished,
  PolicyBundlePublishedSchema,
  PolicyBundleRolledBack,
  PolicyBundleRolledBackSchema,
  RuleEffect as RuleEffectEnum,
  RuleSchema,
  ShadowBundleCleared,
  ShadowBundleClearedSchema,
  ShadowBundleSet,
  ShadowBundleSetSchema,
  BundleTestSchema,
} from '@warden/contracts';
import { assertNever, conflict, Decider, invalid, notFound, DomainError, requireRole } from '@warden/kernel';
import { RuleEffect } from './api';
import { describeTestFailure, BundleTestFailure, runBundleTests } from './bundle-tests';
import { BundleCompileError, compileRules, describeCompileError, RuleCompileError, RuleSource } from './compile';
import { BundleDocument, BundleTestCase } from './document';

/** Events of one tenant's policy bundle repository (stream id = tenant id), in wire form. */
export type BundleEvent =
  PolicyBundlePublished | PolicyBundleActivated | PolicyBundleRolledBack | ShadowBundleSet | ShadowBundleCleared;

/** A version taking effect at a time on the decision clock. */
export interface Activation {
  readonly version: string;
  readonly effectiveAtMs: number;
  readonly by: string;
  readonly kind: 'activated' | 'rolled_back';
}

export interface BundleRepositoryState {
  readonly tenantId: string;
  /** The tenant's bundle id, fixed by its first publish ('' before). */
  readonly bundleId: string;
  /** Published versions in publish order. */
  readonly versions: ReadonlyMap<string, PolicyBundlePublished>;
  /** Activations and rollbacks in the order they were recorded. */
  readonly activations: readonly Activation[];
  /** The shadow candidate version, '' when none. */
  readonly shadow: string;
}

export const emptyRepository = (tenantId = ''): BundleRepositoryState => ({
  tenantId,
  bundleId: '',
  versions: new Map(),
  activations: [],
  shadow: '',
});

interface Meta {
  readonly tenantId: string;
  readonly by: string;
  readonly roles: readonly string[];
  readonly now: number;
}

export type BundleCommand =
  | (Meta & { readonly type: 'PublishBundle'; readonly document: BundleDocument; readonly source: string })
  | (Meta & { readonly type: 'ActivateBundle'; readonly version: string; readonly effectiveAtMs: number })
  | (Meta & { readonly type: 'RollBackBundle'; readonly toVersion: string; readonly reason: string })
  | (Meta & { readonly type: 'SetShadowBundle'; readonly version: string })
  | (Meta & { readonly type: 'ClearShadowBundle' });

/** A bundle refused at publish: its CEL errors or failing test cases, each listed. */
export class BundleRejected extends DomainError {
  constructor(
    code: 'cel_error' | 'bundle_tests_failed',
    message: string,
    field: string,
    readonly compileErrors: readonly RuleCompileError[],
    readonly testFailures: readonly BundleTestFailure[],
  ) {
    super('invalid', code, message, field);
  }
}

const EFFECT_TO_ENUM: Record<RuleEffect, RuleEffectEnum> = {
  allow: RuleEffectEnum.ALLOW,
  deny: RuleEffectEnum.DENY,
  require_approval: RuleEffectEnum.REQUIRE_APPROVAL,
};

export function effectOf(value: RuleEffectEnum): RuleEffect {
  switch (value) {
    case RuleEffectEnum.ALLOW:
      return 'allow';
    case RuleEffectEnum.REQUIRE_APPROVAL:
      return 'require_approval';
    default:
      return 'deny';
  }
}

export const effectToEnum = (effect: RuleEffect): RuleEffectEnum => EFFECT_TO_ENUM[effect];

/** The rules of a published version, as the compiler takes them. */
export function rulesOf(published: PolicyBundlePublished): RuleSource[] {
  return published.rules.map((r) => ({
    id: r.id,
    description: r.description,
    when: r.when,
    effect: effectOf(r.effect),
    risk: r.risk,
    reason: r.reason,
  }));
}

/** The tests of a published version, as the test runner takes them. */
export function testsOf(published: PolicyBundlePublished): BundleTestCase[] {
  return published.tests.map((t) => ({
    name: t.name,
    input: (t.input ?? {}) as Record<string, unknown>,
    expect: { verdict: effectOf(t.expectVerdict), ...(t.checkRules ? { rules: t.expectRules } : {}) },
  }));
}

/** A content digest of a bundle document (rules, tests, description): equal content, equal digest. */
export function digestOf(doc: BundleDocument): string {
  const canonical = JSON.stringify({
    id: doc.id,
    version: doc.version,
    description: doc.description,
    rules: doc.rules.map((r) => [r.id, r.description, r.when, r.effect, r.risk, r.reason]),
    tests: doc.tests.map((t) => [t.name, sortKeys(t.input), t.expect.verdict, t.expect.rules ?? null]),
  });
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}

/** The version in effect at `nowMs`: the latest activation that has taken effect ('' when none). */
export function activeVersionAt(state: BundleRepositoryState, nowMs: number): string {
  let best: Activation | undefined;
  for (const a of state.activations) {
    if (a.effectiveAtMs <= nowMs && (!best || a.effectiveAtMs >= best.effectiveAtMs)) best = a;
  }
  return best?.version ?? '';
}

function requireVersion(state: BundleRepositoryState, version: string): PolicyBundlePublished {
  const published = state.versions.get(version);
  if (!published) throw notFound('not_found', `no version ${version} of the tenant's bundle`);
  return published;
}

function publish(command: Extract<BundleCommand, { type: 'PublishBundle' }>, state: BundleRepositoryState) {
  const doc = command.document;
  if (state.bundleId !== '' && state.bundleId !== doc.id) {
    throw conflict('bundle_id_mismatch', `the tenant's bundle is ${state.bundleId}, not ${doc.id}`, 'id');
  }
  if (state.versions.has(doc.version)) {
    throw conflict('version_exists', `version ${doc.version} is already published`, 'version');
  }
  const digest = digestOf(doc);
  let compiled;
  try {
    compiled = compileRules({
      bundleId: doc.id,
      tenantId: command.tenantId,
      version: doc.version,
      digest,
      rules: doc.rules,
    });
  } catch (error) {
    if (!(error instanceof BundleCompileError)) throw error;
    const first = error.errors[0];
    throw new BundleRejected(
      'cel_error',
      error.errors.map(describeCompileError).join('; '),
      `rules[${first.index}].when`,
      error.errors,
      [],
    );
  }
  const failures = runBundleTests(compiled, doc.tests);
  if (failures.length > 0) {
    throw new BundleRejected(
      'bundle_tests_failed',
      `${failures.length} of ${doc.tests.length} bundle tests failed: ${failures.map(describeTestFailure).join('; ')}`,
      'tests',
      [],
      failures,
    );
  }
  return [
    create(PolicyBundlePublishedSchema, {
      bundleId: doc.id,
      tenantId: command.tenantId,
      version: doc.version,
      description: doc.description,
      rules: doc.rules.map((r) =>
        create(RuleSchema, {
          id: r.id,
          description: r.description,
          when: r.when,
          effect: EFFECT_TO_ENUM[r.effect],
          risk: r.risk,
          reason: r.reason,
        }),
      ),
      tests: doc.tests.map((t) =>
        create(BundleTestSchema, {
          name: t.name,
          input: t.input as never,
          expectVerdict: EFFECT_TO_ENUM[t.expect.verdict],
          expectRules: [...(t.expect.rules ?? [])],
          checkRules: t.expect.rules !== undefined,
        }),
      ),
      digest,
      source: command.source,
      publishedBy: command.by,
      publishedAtMs: command.now,
    }),
  ];
}

/**
 * A tenant's policy bundle repository: publish (compile and run the bundle's tests first),
 * activate a version at a time, roll back to an earlier version, and set or clear a shadow candidate.
 */
export const bundleRepository: Decider<BundleCommand, BundleRepositoryState, BundleEvent> = {
  initialState: emptyRepository(),

  decide(command, state) {
    switch (command.type) {
      case 'PublishBundle':
        requireRole(command, 'policy.bundles.write');
        return publish(command, state);
      case 'ActivateBundle': {
        requireRole(command, 'policy.bundles.write');
        const published = requireVersion(state, command.version);
        const effectiveAtMs = command.effectiveAtMs === 0 ? command.now : command.effectiveAtMs;
        if (effectiveAtMs < command.now) {
          throw invalid('activation_in_past', 'effectiveAtMs must not be in the past', 'effectiveAtMs');
        }
        return [
          create(PolicyBundleActivatedSchema, {
            bundleId: published.bundleId,
            tenantId: command.tenantId,
            version: command.version,
            activatedBy: command.by,
            activatedAtMs: command.now,
            effectiveAtMs,
          }),
        ];
      }
      case 'RollBackBundle': {
        requireRole(command, 'policy.bundles.write');
        if (command.reason.trim() === '') throw invalid('reason_required', 'a reason is required', 'reason');
        const current = activeVersionAt(state, command.now);
        if (current === '') throw conflict('nothing_active', 'no version is active, so there is nothing to roll back');
        const target = requireVersion(state, command.toVersion);
        const order = [...state.versions.keys()];
        if (order.indexOf(command.toVersion) >= order.indexOf(current)) {
          throw conflict(
            'not_earlier',
            `version ${command.toVersion} is not earlier than the active version ${current}`,
            'toVersion',
          );
        }
        return [
          create(PolicyBundleRolledBackSchema, {
            bundleId: target.bundleId,
            tenantId: command.tenantId,
            fromVersion: current,
            toVersion: command.toVersion,
            rolledBackBy: command.by,
            rolledBackAtMs: command.now,
            reason: command.reason,
          }),
        ];
      }
      case 'SetShadowBundle': {
        requireRole(command, 'policy.bundles.write');
        const published = requireVersion(state, command.version);
        return [
          create(ShadowBundleSetSchema, {
            bundleId: published.bundleId,
            tenantId: command.tenantId,
            version: command.version,
            setBy: command.by,
            setAtMs: command.now,
          }),
        ];
      }
      case 'ClearShadowBundle':
        requireRole(command, 'policy.bundles.write');
        if (state.shadow === '') throw conflict('no_shadow', 'no shadow bundle is set');
        return [
          create(ShadowBundleClearedSchema, {
            bundleId: state.bundleId,
            tenantId: command.tenantId,
            version: state.shadow,
            clearedBy: command.by,
            clearedAtMs: command.now,
          }),
        ];
      default:
        return assertNever(command, 'command');
    }
  },

  evolve(state, event) {
    switch (event.$typeName) {
      case 'warden.policy.v1.PolicyBundlePublished': {
        if (state.versions.has(event.version) || (state.bundleId !== '' && state.bundleId !== event.bundleId)) {
          return state;
        }
        const versions = new Map(state.versions);
        versions.set(event.version, event);
        return { ...state, tenantId: event.tenantId, bundleId: event.bundleId, versions };
      }
      case 'warden.policy.v1.PolicyBundleActivated':
        if (!state.versions.has(event.version)) return state;
        return {
          ...state,
          activations: [
            ...state.activations,
            {
              version: event.version,
              effectiveAtMs: event.effectiveAtMs || event.activatedAtMs,
              by: event.activatedBy,
              kind: 'activated',
            },
          ],
        };
      case 'warden.policy.v1.PolicyBundleRolledBack':
        if (!state.versions.has(event.toVersion)) return state;
        // A rollback also cancels activations scheduled after it.
        return {
          ...state,
          activations: [
            ...state.activations.filter((a) => a.effectiveAtMs <= event.rolledBackAtMs),
            {
              version: event.toVersion,
              effectiveAtMs: event.rolledBackAtMs,
              by: event.rolledBackBy,
              kind: 'rolled_back',
            },
          ],
        };
      case 'warden.policy.v1.ShadowBundleSet':
        return state.versions.has(event.version) ? { ...state, shadow: event.version } : state;
      case 'warden.policy.v1.ShadowBundleCleared':
        return state.shadow === '' ? state : { ...state, shadow: '' };
      default:
        return assertNever(event, 'event');
    }
  },
};
