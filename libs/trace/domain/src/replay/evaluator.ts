/**
 * THE adapter between replay and the policy evaluation: the only file of trace that imports
 * the policy domain (docs/adr/0062). Replay hands it a recorded decision and the registry and
 * kill-switch state the decision was made from; it answers what the evaluator decides now.
 * When the policy evaluation changes (versioned bundles), only this file is re-pointed.
 */
import {
  ActiveSwitches,
  covering,
  Envelope,
  evolveActiveSwitches,
  GateDecided,
  KillSwitchEngagedSchema,
  KillSwitchReleasedSchema,
  Topic,
  TopicName,
} from '@warden/contracts';
import { AgentDirectory, BUILTIN_CHECKS_VERSION, evolveAgentDirectory, gate } from '@warden/policy-domain';

/** The state a decision is made from, folded from the topics below. */
export interface PolicyState {
  readonly registry: AgentDirectory;
  readonly killSwitches: ActiveSwitches;
}

export const EMPTY_POLICY_STATE: PolicyState = { registry: new Map(), killSwitches: new Map() };

/** The topics whose state the policy reads, with the StateVersions field that records each one's position. */
export const STATE_TOPICS = [
  { topic: Topic.registryEvents, version: 'registryOffset' },
  { topic: Topic.killswitchEvents, version: 'killswitchOffset' },
] as const satisfies readonly { topic: TopicName; version: string }[];

/** Folds one event of a state topic into the policy state. */
export function evolvePolicyState(state: PolicyState, topic: TopicName, event: Envelope): PolicyState {
  if (topic === Topic.registryEvents) {
    const registry = evolveAgentDirectory(state.registry, event);
    return registry === state.registry ? state : { ...state, registry };
  }
  if (event.type === KillSwitchEngagedSchema.typeName || event.type === KillSwitchReleasedSchema.typeName) {
    const killSwitches = evolveActiveSwitches(state.killSwitches, event);
    return killSwitches === state.killSwitches ? state : { ...state, killSwitches };
  }
  return state;
}

/** What an evaluator decides for a recorded request. */
export interface Evaluated {
  readonly verdict: GateDecided['verdict'];
  readonly reason: string;
  readonly bundleVersion: string;
  readonly policies: readonly { readonly policyId: string; readonly version: string; readonly result: string }[];
}

/** The bundle versions an evaluator exists for (re-evaluation and what-if pick from these). */
export const EVALUATOR_VERSIONS: readonly string[] = [BUILTIN_CHECKS_VERSION];

/**
 * Re-evaluates a recorded decision's request with the evaluator of `bundleVersion`, from the
 * given state, at the recorded decision time, with the recorded budget reservation. Undefined
 * when no evaluator exists for that version.
 */
export function evaluate(bundleVersion: string, recorded: GateDecided, state: PolicyState): Evaluated | undefined {
  if (!EVALUATOR_VERSIONS.includes(bundleVersion) || !recorded.request) return undefined;
  const request = recorded.request;
  const reservation = recorded.context?.reservation;
  const versions = recorded.context?.versions;
  const [decided] = gate.decide(
    {
      type: 'DecideGate',
      request,
      reservation: {
        granted: reservation?.granted ?? false,
        reservationId: reservation?.reservationId ?? '',
        reason: reservation?.reason ?? '',
        reservedTokens: reservation?.reservedTokens ?? 0,
      },
      killSwitches: covering(state.killSwitches, request, recorded.decidedAtMs),
      agent: state.registry.get(request.agentId),
      versions: { registry: versions?.registryOffset ?? 0, killswitch: versions?.killswitchOffset ?? 0 },
      decisionId: recorded.decisionId,
      now: recorded.decidedAtMs,
    },
    gate.initialState,
  );
  return {
    verdict: decided.verdict,
    reason: decided.reason,
    bundleVersion: decided.context?.versions?.policyBundleVersion ?? bundleVersion,
    policies: (decided.context?.evaluations ?? []).map((e) => ({
      policyId: e.policyId,
      version: e.version,
      result: e.result,
    })),
  };
}
