import { GateDecided, GateDecidedSchema, Topic, Verdict } from '@warden/contracts';
import { ProjectionDefinition } from '@warden/platform';

/** policy.decisions: the final decision per gate request, for the policy API. */
export interface DecisionRow {
  readonly id: string;
  readonly decision_id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly run_id: string;
  readonly verdict: string;
  readonly reason: string;
  readonly evaluations: unknown;
  readonly decided_at: string;
  readonly [column: string]: unknown;
}

export const decisionsProjection: ProjectionDefinition<DecisionRow> = {
  name: 'decisions',
  table: 'policy.decisions',
  topics: [Topic.gateDecisions],
  handles: [GateDecidedSchema.typeName],
  rowId: (event) => (event.data as GateDecided).requestId,
  evolve(row, event) {
    const d = event.data as GateDecided;
    // A pending decision is replaced by the final one; a re-emitted duplicate changes nothing.
    if (row && (row.decision_id === d.decisionId || row.verdict !== 'pending_approval')) return row;
    return {
      id: d.requestId,
      decision_id: d.decisionId,
      tenant_id: d.tenantId,
      agent_id: d.agentId,
      run_id: d.runId,
      verdict: (Verdict[d.verdict] ?? `unknown_${d.verdict}`).toLowerCase(),
      reason: d.reason,
      evaluations: (d.context?.evaluations ?? []).map((e) => ({
        policyId: e.policyId,
        version: e.version,
        result: e.result,
        reason: e.reason,
      })),
      decided_at: new Date(d.decidedAtMs).toISOString(),
    };
  },
};
