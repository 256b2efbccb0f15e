import {
  create,
  GateDecided,
  RuleOutcomeSchema,
  ShadowDecisionRecorded,
  ShadowDecisionRecordedSchema,
} from '@warden/contracts';
import { Decider } from '@warden/kernel';
import { CompiledBundle } from './api';
import { effectToEnum } from './bundle-repository';
import { compareBundles, recordedRuleInput } from './compare';

/** Record what the tenant's shadow candidate would have decided for a live decision. */
export interface RecordShadowDecision {
  readonly type: 'RecordShadowDecision';
  readonly decided: GateDecided;
  /** The bundle active at the decision time, undefined when none was. */
  readonly active: CompiledBundle | undefined;
  readonly shadow: CompiledBundle;
}

/** Per run (the stream): the requests already compared, so a pending and a final decision count once. */
export type ShadowState = ReadonlySet<string>;

/**
 * Shadow mode: evaluates the candidate beside the active bundle on the input rebuilt from the
 * recorded request (see recordedRuleInput) and records both verdicts, never enforcing either.
 */
export const shadowRecorder: Decider<RecordShadowDecision, ShadowState, ShadowDecisionRecorded> = {
  initialState: new Set<string>(),

  decide({ decided, active, shadow }, seen) {
    if (!decided.request || seen.has(decided.requestId)) return [];
    const comparison = compareBundles(recordedRuleInput(decided.request, decided.decidedAtMs), active, shadow);
    return [
      create(ShadowDecisionRecordedSchema, {
        tenantId: decided.tenantId,
        requestId: decided.requestId,
        decisionId: decided.decisionId,
        agentId: decided.agentId,
        bundleId: shadow.bundleId,
        liveVerdict: decided.verdict,
        activeVersion: comparison.baselineVersion,
        activeEffect: effectToEnum(comparison.baselineEffect),
        shadowVersion: comparison.candidateVersion,
        shadowEffect: effectToEnum(comparison.candidateEffect),
        shadowRules: comparison.candidateRules.map((v) =>
          create(RuleOutcomeSchema, {
            ruleId: v.ruleId,
            version: v.version,
            result: v.result,
            risk: v.risk,
            reason: v.reason,
          }),
        ),
        flippedRules: [...comparison.flippedRules],
        decidedAtMs: decided.decidedAtMs,
      }),
    ];
  },

  evolve(seen, event) {
    if (seen.has(event.requestId)) return seen;
    return new Set(seen).add(event.requestId);
  },
};
