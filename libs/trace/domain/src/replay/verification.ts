import { Envelope, GateDecided, StateVersions, TopicName } from '@warden/contracts';
import { verdictName } from '../verdicts';
import {
  Activity,
  emptyActivity,
  EMPTY_POLICY_STATE,
  EMPTY_RUN_STATE,
  evaluate,
  evolvePolicyState,
  foldActivity,
  foldRun,
  PolicyState,
  resolvesApproval,
  RunState,
  STATE_TOPICS,
} from './evaluator';

/** A decision as recorded on gate.decisions, with where it was. */
export interface RecordedDecision {
  readonly decision: GateDecided;
  /** `gate.decisions:<partition>:<offset>` */
  readonly source: string;
}

/** An event of a state topic, with where it was. */
export interface LoggedEvent {
  readonly event: Envelope;
  readonly partition: number;
  readonly offset: number;
}

/**
 * The events of the state topics (registry, kill switches, bundles) in the order a table reading
 * every partition applied them, as far as it can be known afterwards (event time, then partition
 * and offset). A decision names which of them its tables had applied: exactly, by the next offset
 * of every partition (StateVersions.positions), or, in decisions recorded before those existed,
 * by how many (the first N of this order).
 */
export type StateLog = ReadonlyMap<TopicName, readonly LoggedEvent[]>;

export interface Verdicted {
  readonly verdict: string;
  readonly reason: string;
  readonly bundleVersion: string;
}

export interface ReplayedDecision {
  readonly requestId: string;
  readonly decisionId: string;
  readonly agentId: string;
  readonly runId: string;
  readonly decidedAtMs: number;
  readonly source: string;
  readonly recorded: Verdicted;
  readonly replayed: (Verdicted & { readonly policies: readonly unknown[] }) | null;
  /**
   * How many events of each state topic the replay applied and whether that is exactly what the
   * policy's tables held (`exact`), and how many activity events it folded (by time: approximate).
   */
  readonly state: { readonly [topic: string]: number | boolean; readonly exact: boolean };
  readonly outcome: 'same' | 'different' | 'not_replayable';
  readonly note?: string;
}

export interface VerificationReport {
  readonly tenantId: string;
  readonly runId: string;
  /** `recorded`: each decision with the bundle it was made with; `what_if`: all with `bundleVersion`. */
  readonly mode: 'recorded' | 'what_if';
  readonly bundleVersion: string | null;
  readonly checked: number;
  readonly same: number;
  readonly different: number;
  readonly notReplayable: number;
  /** The decisions whose verdict or reason differs, with both. */
  readonly differences: readonly ReplayedDecision[];
  readonly decisions: readonly ReplayedDecision[];
}

/**
 * Re-evaluates each recorded decision from the state it recorded (StateVersions), at its
 * recorded time, with the evaluator of its own bundle version, or of `whatIf` for all. Pure:
 * the caller reads the decisions and the state topics from Kafka.
 */
export function verifyDecisions(
  scope: { readonly tenantId: string; readonly runId: string },
  decisions: readonly RecordedDecision[],
  log: StateLog,
  options: {
    readonly whatIf?: string;
    readonly exactTopics: ReadonlySet<TopicName>;
    /** The tenant's events of ACTIVITY_TOPICS in time order; without them the activity is empty. */
    readonly activity?: readonly Envelope[];
  },
): VerificationReport {
  const activityLog = options.activity ?? [];
  let activity: Activity = emptyActivity();
  let applied = 0;
  /** The activity of events before `at` (folded forward; from scratch if time goes back). */
  const activityBefore = (at: number): Activity => {
    if (applied > 0 && activityLog[applied - 1].time >= at) {
      activity = emptyActivity();
      applied = 0;
    }
    while (applied < activityLog.length && activityLog[applied].time < at) {
      activity = foldActivity(activity, activityLog[applied]);
      applied += 1;
    }
    return activity;
  };
  const states = new Map<string, { state: PolicyState; counts: number[] }>();
  /** The state the decision's tables held, and how many events of each topic that is. */
  const stateOf = (context: GateDecided['context']) => {
    const v: StateVersions | undefined = context?.versions;
    const recorded = new Map((v?.positions ?? []).map((p) => [p.topic, p.nextOffsets]));
    const picks = STATE_TOPICS.map(({ topic, version }) => {
      const events = log.get(topic) ?? [];
      // With positions recorded, a topic without one is a topic the table had applied nothing of.
      const next = recorded.size > 0 ? (recorded.get(topic) ?? []) : undefined;
      if (next) {
        return {
          key: `@${next.join(',')}`,
          exact: true,
          pick: () => events.filter((e) => e.offset < (next[e.partition] ?? 0)),
        };
      }
      const n = Math.min(Math.max(Math.trunc(v?.[version] ?? 0), 0), events.length);
      return { key: `#${n}`, exact: options.exactTopics.has(topic), pick: () => events.slice(0, n) };
    });
    const key = picks.map((p) => p.key).join('|');
    let hit = states.get(key);
    if (!hit) {
      let state = EMPTY_POLICY_STATE;
      const counts = STATE_TOPICS.map(({ topic }, i) => {
        const picked = picks[i].pick();
        for (const { event } of picked) state = evolvePolicyState(state, topic, event);
        return picked.length;
      });
      hit = { state, counts };
      states.set(key, hit);
    }
    return { ...hit, exact: picks.every((p) => p.exact) };
  };
  // The run's own earlier decisions, folded in their (single-partition) order: exact.
  let run: RunState = EMPTY_RUN_STATE;
  const replayed = decisions.map(({ decision, source }): ReplayedDecision => {
    const before = run;
    run = foldRun(run, decision);
    const recordedBundle = decision.context?.versions?.policyBundleVersion ?? '';
    const from = stateOf(decision.context);
    const at = activityBefore(decision.decidedAtMs);
    const state = {
      ...Object.fromEntries(STATE_TOPICS.map(({ topic }, i) => [topic, from.counts[i]])),
      activity: applied,
    };
    // `exact` speaks of the registry, kill-switch and bundle state; the activity is always by time.
    const exact = from.exact;
    const base = {
      requestId: decision.requestId,
      decisionId: decision.decisionId,
      agentId: decision.agentId,
      runId: decision.runId,
      decidedAtMs: decision.decidedAtMs,
      source,
      recorded: { verdict: verdictName(decision.verdict), reason: decision.reason, bundleVersion: recordedBundle },
      state: { ...state, exact },
    };
    const bundle = options.whatIf ?? recordedBundle;
    if (!decision.request) {
      return { ...base, replayed: null, outcome: 'not_replayable', note: 'the decision does not carry its request' };
    }
    if (resolvesApproval(before, decision)) {
      return {
        ...base,
        replayed: null,
        outcome: 'not_replayable',
        note: 'resolves an approval: the request was re-evaluated at its pending decision; the resolution re-checks it with the approval, which replay does not read',
      };
    }
    const result = evaluate(bundle, decision, from.state, before, at);
    if (!result) {
      return {
        ...base,
        replayed: null,
        outcome: 'not_replayable',
        note: `no evaluator for bundle ${bundle || '(none)'}`,
      };
    }
    const again = {
      verdict: verdictName(result.verdict),
      reason: result.reason,
      bundleVersion: result.bundleVersion,
      policies: result.policies,
    };
    const same = again.verdict === base.recorded.verdict && again.reason === base.recorded.reason;
    return { ...base, replayed: again, outcome: same ? 'same' : 'different' };
  });
  const count = (o: ReplayedDecision['outcome']) => replayed.filter((d) => d.outcome === o).length;
  return {
    tenantId: scope.tenantId,
    runId: scope.runId,
    mode: options.whatIf ? 'what_if' : 'recorded',
    bundleVersion: options.whatIf ?? null,
    checked: replayed.length,
    same: count('same'),
    different: count('different'),
    notReplayable: count('not_replayable'),
    differences: replayed.filter((d) => d.outcome === 'different'),
    decisions: replayed,
  };
}
