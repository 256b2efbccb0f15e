import {
  Envelope,
  PolicyBundleActivated,
  PolicyBundleActivatedSchema,
  PolicyBundlePublished,
  PolicyBundlePublishedSchema,
  PolicyBundleRolledBack,
  PolicyBundleRolledBackSchema,
  RuleEffect,
  ShadowDecisionRecorded,
  ShadowDecisionRecordedSchema,
  Topic,
  Verdict,
} from '@warden/contracts';
import { ProjectionDefinition } from '@warden/platform';

const iso = (ms: number) => new Date(ms).toISOString();
const effect = (e: RuleEffect) => (RuleEffect[e] ?? 'UNSPECIFIED').toLowerCase();

/** One activation or rollback that made a version effective. */
export interface ActivationView {
  readonly kind: 'activated' | 'rolled_back';
  readonly by: string;
  readonly effectiveAt: string;
  readonly recordedAt: string;
  readonly reason: string;
}

/** policy.bundle_versions: every published bundle version with its rules, tests and activations. */
export interface BundleVersionRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly bundle_id: string;
  readonly version: string;
  readonly digest: string;
  readonly description: string;
  readonly rules: unknown;
  readonly tests: unknown;
  readonly source: string;
  readonly published_by: string;
  readonly published_at: string;
  readonly activations: readonly ActivationView[];
  readonly [column: string]: unknown;
}

type BundleVersionEvent = PolicyBundlePublished | PolicyBundleActivated | PolicyBundleRolledBack;

export const bundleVersionsProjection: ProjectionDefinition<BundleVersionRow> = {
  name: 'bundle-versions',
  table: 'policy.bundle_versions',
  topics: [Topic.policyEvents],
  handles: [
    PolicyBundlePublishedSchema.typeName,
    PolicyBundleActivatedSchema.typeName,
    PolicyBundleRolledBackSchema.typeName,
  ],
  rowId(event: Envelope) {
    const data = event.data as BundleVersionEvent;
    const version = data.$typeName === 'warden.policy.v1.PolicyBundleRolledBack' ? data.toVersion : data.version;
    return `${data.tenantId}/${version}`;
  },
  evolve(row, event) {
    const data = event.data as BundleVersionEvent;
    switch (data.$typeName) {
      case 'warden.policy.v1.PolicyBundlePublished':
        if (row) return row;
        return {
          id: `${data.tenantId}/${data.version}`,
          tenant_id: data.tenantId,
          bundle_id: data.bundleId,
          version: data.version,
          digest: data.digest,
          description: data.description,
          rules: data.rules.map((r) => ({
            id: r.id,
            description: r.description,
            when: r.when,
            effect: effect(r.effect),
            risk: r.risk,
            reason: r.reason,
          })),
          tests: data.tests.map((t) => ({
            name: t.name,
            input: t.input ?? {},
            expect: { verdict: effect(t.expectVerdict), ...(t.checkRules ? { rules: t.expectRules } : {}) },
          })),
          source: data.source,
          published_by: data.publishedBy,
          published_at: iso(data.publishedAtMs),
          activations: [],
        };
      case 'warden.policy.v1.PolicyBundleActivated':
        if (!row) return row;
        return {
          ...row,
          activations: [
            ...row.activations,
            {
              kind: 'activated',
              by: data.activatedBy,
              effectiveAt: iso(data.effectiveAtMs || data.activatedAtMs),
              recordedAt: iso(data.activatedAtMs),
              reason: '',
            },
          ],
        };
      case 'warden.policy.v1.PolicyBundleRolledBack':
        if (!row) return row;
        return {
          ...row,
          activations: [
            ...row.activations,
            {
              kind: 'rolled_back',
              by: data.rolledBackBy,
              effectiveAt: iso(data.rolledBackAtMs),
              recordedAt: iso(data.rolledBackAtMs),
              reason: `rolled back from ${data.fromVersion}: ${data.reason}`,
            },
          ],
        };
    }
  },
};

/** policy.shadow_decisions: the shadow candidate's verdict beside each live decision. */
export interface ShadowDecisionRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly request_id: string;
  readonly decision_id: string;
  readonly agent_id: string;
  readonly bundle_id: string;
  readonly live_verdict: string;
  readonly active_version: string;
  readonly active_effect: string;
  readonly shadow_version: string;
  readonly shadow_effect: string;
  readonly flipped: boolean;
  readonly flipped_rules: readonly string[];
  readonly shadow_rules: unknown;
  readonly decided_at: string;
  readonly [column: string]: unknown;
}

export const shadowDecisionsProjection: ProjectionDefinition<ShadowDecisionRow> = {
  name: 'shadow-decisions',
  table: 'policy.shadow_decisions',
  topics: [Topic.policyShadow],
  handles: [ShadowDecisionRecordedSchema.typeName],
  rowId: (event) => {
    const d = event.data as ShadowDecisionRecorded;
    return `${d.tenantId}/${d.shadowVersion}/${d.decisionId}`;
  },
  evolve(row, event) {
    if (row) return row;
    const d = event.data as ShadowDecisionRecorded;
    return {
      id: `${d.tenantId}/${d.shadowVersion}/${d.decisionId}`,
      tenant_id: d.tenantId,
      request_id: d.requestId,
      decision_id: d.decisionId,
      agent_id: d.agentId,
      bundle_id: d.bundleId,
      live_verdict: (Verdict[d.liveVerdict] ?? 'UNSPECIFIED').toLowerCase(),
      active_version: d.activeVersion,
      active_effect: effect(d.activeEffect),
      shadow_version: d.shadowVersion,
      shadow_effect: effect(d.shadowEffect),
      flipped: d.activeEffect !== d.shadowEffect,
      flipped_rules: [...d.flippedRules],
      shadow_rules: d.shadowRules.map((r) => ({ ruleId: r.ruleId, result: r.result, risk: r.risk, reason: r.reason })),
      decided_at: iso(d.decidedAtMs),
    };
  },
};
