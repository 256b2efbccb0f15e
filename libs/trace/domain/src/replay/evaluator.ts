/**
 * THE adapter between replay and the policy evaluation: the only file of trace that imports
 * the policy domain (docs/adr/0062). Replay hands it a recorded decision and the registry,
 * kill-switch and policy-bundle state the decision was made from (folded from Kafka up to the
 * positions the decision recorded); it answers what the admission decision decides now.
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  ActiveSwitches,
  Envelope,
  evolveActiveSwitches,
  GateDecided,
  PolicyBundlePublishedSchema,
  Topic,
  TopicName,
} from '@warden/contracts';
import {
  agentKey,
  BUILTIN_CHECKS_VERSION,
  BundleDirectory,
  completionKey,
  compiledVersion,
  CompiledBundle,
  emptyBundleDirectory,
  emptyGateActivity,
  emptyGateRegistry,
  evolveBundleDirectory,
  evolveGateActivity,
  evolveGateRegistry,
  gate,
  GateActivity,
  GateRegistry,
  GateState,
  GateView,
} from '@warden/policy-domain';

/** The state a decision is made from, folded from the topics below. */
export interface PolicyState {
  readonly registry: GateRegistry;
  readonly killSwitches: ActiveSwitches;
  readonly bundles: BundleDirectory;
}

export const EMPTY_POLICY_STATE: PolicyState = {
  registry: emptyGateRegistry(),
  killSwitches: new Map(),
  bundles: emptyBundleDirectory(),
};

/** The topics whose state the policy reads, with the StateVersions field that records each one's position. */
export const STATE_TOPICS = [
  { topic: Topic.registryEvents, version: 'registryOffset' },
  { topic: Topic.killswitchEvents, version: 'killswitchOffset' },
  { topic: Topic.policyEvents, version: 'bundlesOffset' },
] as const satisfies readonly { topic: TopicName; version: string }[];

/** Folds one event of a state topic into the policy state (the policy service's own folds). */
export function evolvePolicyState(state: PolicyState, topic: TopicName, event: Envelope): PolicyState {
  if (topic === Topic.registryEvents) {
    const registry = evolveGateRegistry(state.registry, event);
    return registry === state.registry ? state : { ...state, registry };
  }
  if (topic === Topic.killswitchEvents) {
    const killSwitches = evolveActiveSwitches(state.killSwitches, event);
    return killSwitches === state.killSwitches ? state : { ...state, killSwitches };
  }
  if (topic === Topic.policyEvents) {
    const bundles = evolveBundleDirectory(state.bundles, event);
    return bundles === state.bundles ? state : { ...state, bundles };
  }
  return state;
}

/**
 * The gate processor's state for one run (its earlier decisions and allowed steps), exact because
 * a run's decisions are all on one partition: replay folds the recorded decisions in order.
 */
export type RunState = GateState;
export const EMPTY_RUN_STATE: RunState = gate.initialState;

/** The run's state after a recorded decision, as the gate processor folded it. */
export function foldRun(run: RunState, recorded: GateDecided): RunState {
  return gate.evolve(run, recorded);
}

/** Whether the recorded decision resolves an approval the run was waiting for (not a new request). */
export function resolvesApproval(run: RunState, recorded: GateDecided): boolean {
  const earlier = run.decisions.get(recorded.requestId);
  return earlier !== undefined && !earlier.final && recorded.final;
}

/**
 * The policy's activity table (the agents' histories across runs, standing approvals, completed
 * idempotency keys), folded from these topics. A decision records only how many events the table
 * had applied, not which, so replay folds the tenant's events that happened before the decision
 * (by event time): close to what the policy saw, not exactly it (the report counts them apart).
 */
export const ACTIVITY_TOPICS: readonly TopicName[] = [
  Topic.gateDecisions,
  Topic.budgetReservations,
  Topic.approvalEvents,
];
export type Activity = GateActivity;
/** The policy's default history horizon (POLICY_AGENT_HISTORY_HORIZON_MS); replay does not know the live setting. */
export const REPLAY_HISTORY_HORIZON_MS = 86_400_000;
export const emptyActivity = (): Activity => emptyGateActivity(REPLAY_HISTORY_HORIZON_MS);
/** Folds one event into the activity (in place, like the policy's table). */
export const foldActivity = (activity: Activity, event: Envelope): Activity => evolveGateActivity(activity, event);

/** What an evaluator decides for a recorded request. */
export interface Evaluated {
  readonly verdict: GateDecided['verdict'];
  readonly reason: string;
  readonly bundleVersion: string;
  readonly policies: readonly { readonly policyId: string; readonly version: string; readonly result: string }[];
}

/** The version a decision records when no bundle was active: the built-in admission checks alone. */
export const EVALUATOR_VERSIONS: readonly string[] = [BUILTIN_CHECKS_VERSION, ''];

/** Whether `version` can be replayed for a tenant: the built-in checks, or a bundle version it published. */
export function knownBundleVersion(policyEvents: readonly Envelope[], tenantId: string, version: string): boolean {
  if (EVALUATOR_VERSIONS.includes(version)) return true;
  return policyEvents.some(
    (e) => e.type === PolicyBundlePublishedSchema.typeName && e.tenantId === tenantId && eventVersion(e) === version,
  );
}

const eventVersion = (e: Envelope) => (e.data as { version?: string }).version;

/**
 * Whether the budget asked for an approval: recorded in the reservation since 2026-11-21; before,
 * only as the `warden.approval.budget` evaluation (absent when a standing approval covered it).
 */
function budgetAsk(recorded: GateDecided): { approvalRequired: boolean; approvalReason: string } {
  const reservation = recorded.context?.reservation;
  if (reservation?.approvalRequired) return { approvalRequired: true, approvalReason: reservation.approvalReason };
  const asked = recorded.context?.evaluations.find((e) => e.policyId === 'warden.approval.budget');
  // The admission records `approvalReason || 'budget threshold'`: the default means no reason was given.
  if (asked) return { approvalRequired: true, approvalReason: asked.reason === 'budget threshold' ? '' : asked.reason };
  return { approvalRequired: false, approvalReason: '' };
}

/**
 * Trace does not hold the key-encryption key, so it cannot sign with the real decision key:
 * replay signs with a throwaway key under the recorded kid. Verdicts and reasons are compared;
 * token bytes are not (the policy service's replay test compares those).
 */
const REPLAY_KEY = generateKeyPairSync('ed25519').privateKey;

/**
 * Re-evaluates a recorded decision's request with `bundleVersion` (its own, or another for
 * what-if), from the given state and the run's state before it, at the recorded decision time,
 * with the recorded budget reservation, and the activity (see ACTIVITY_TOPICS) when given.
 * Undefined when the version is unknown. Without an activity, an already_completed answer is taken
 * from the record itself and the agent's history across its other runs is empty.
 */
export function evaluate(
  bundleVersion: string,
  recorded: GateDecided,
  state: PolicyState,
  run: RunState = EMPTY_RUN_STATE,
  activity?: Activity,
): Evaluated | undefined {
  const request = recorded.request;
  if (!request) return undefined;
  const context = recorded.context;
  const refused = context?.evaluations[0]?.policyId.startsWith('warden.request.');
  if (refused) {
    // The gate's ingress refused the request as sent, which is not kept (raw input): the refusal
    // is a pure function of that input, so it stands as recorded, under any policy version.
    return {
      verdict: recorded.verdict,
      reason: recorded.reason,
      bundleVersion,
      policies: (context?.evaluations ?? []).map((e) => ({
        policyId: e.policyId,
        version: e.version,
        result: e.result,
      })),
    };
  }
  let bundle: CompiledBundle | undefined;
  if (!EVALUATOR_VERSIONS.includes(bundleVersion)) {
    const entry = state.bundles.get(recorded.tenantId);
    bundle = entry && compiledVersion(entry, bundleVersion);
    if (!bundle) return undefined;
  }
  const reservation = context?.reservation;
  const versions = context?.versions;
  const signature = context?.evaluations.find((e) => e.policyId === 'warden.registry.signature');
  const view: GateView = {
    registry: state.registry,
    switches: state.killSwitches,
    bundleFor: () => bundle,
    standing: activity?.standing ?? new Map(),
    completedBy: (tenantId, key) =>
      activity?.completions.get(completionKey(tenantId, key)) ?? (recorded.completedByRequestId || undefined),
    agentHistory: (tenantId, agentId) => activity?.agentHistory.get(agentKey(tenantId, agentId)) ?? [],
    signer: { kid: recorded.decisionTokenKid || 'replay', privateKey: REPLAY_KEY },
    settings: {
      decisionTokenTtlMs: Math.max(recorded.tokenExpiresAtMs - recorded.decidedAtMs, 1),
      // The policy's setting at the time, as its evaluation recorded it.
      agentTokens: signature?.reason.startsWith('unsigned request accepted') ? 'optional' : 'required',
      // The request of record carries the id of the token the gate verified, not the token.
      recordedRequests: true,
    },
    versions: {
      registry: versions?.registryOffset ?? 0,
      killswitch: versions?.killswitchOffset ?? 0,
      activity: versions?.activityOffset ?? 0,
      bundles: versions?.bundlesOffset ?? 0,
    },
  };
  const [decided] = gate.decide(
    {
      type: 'DecideGate',
      request,
      reservation: {
        granted: reservation?.granted ?? false,
        reservationId: reservation?.reservationId ?? '',
        reason: reservation?.reason ?? '',
        reservedTokens: reservation?.reservedTokens ?? 0,
        ...budgetAsk(recorded),
        hints: recorded.hints,
      },
      view,
      decisionId: recorded.decisionId,
      now: recorded.decidedAtMs,
    },
    run,
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
