import {
  AgentProfileUpdated,
  AgentRegistered,
  BudgetSettledSchema,
  Envelope,
  GateDecidedSchema,
  is,
  AgentProfileUpdatedSchema,
  AgentRegisteredSchema,
} from '@warden/contracts';
import { KnownAgent, LiveRun } from './kill-switch';

interface RunView extends LiveRun {
  readonly lastSeenMs: number;
}

/**
 * What the kill-switch service knows about the world when a switch is engaged: agents and their
 * owners (registry.events) and recently active runs with their last completed step (gate.decisions,
 * and the settlements on budget.reservations: agents' raw input is never read here). Mutable maps inside, a fresh wrapper per change (tables compare by identity).
 */
export interface GateContext {
  readonly agents: Map<string, KnownAgent>;
  readonly runs: Map<string, RunView>;
}

export const emptyGateContext = (): GateContext => ({ agents: new Map(), runs: new Map() });

const agentKey = (tenantId: string, agentId: string) => `${tenantId}/${agentId}`;

/** Folds one event; runs idle longer than `liveForMs` (by event time) are forgotten on the way. */
export function evolveGateContext(context: GateContext, event: Envelope, liveForMs: number): GateContext {
  if (is(event, AgentRegisteredSchema) || is(event, AgentProfileUpdatedSchema)) {
    const e: AgentRegistered | AgentProfileUpdated = event.data;
    context.agents.set(agentKey(e.tenantId, e.agentId), {
      agentId: e.agentId,
      tenantId: e.tenantId,
      team: e.profile?.owner?.team ?? '',
      contact: e.profile?.owner?.contact ?? '',
    });
    return { ...context };
  }
  if (is(event, GateDecidedSchema)) {
    // A run is live once the gate decided one of its requests (the request of record rides on it).
    const r = event.data.request;
    if (!r) return context;
    const run = context.runs.get(r.runId);
    const tools =
      run === undefined || r.tool === '' || run.tools.includes(r.tool) ? run?.tools : [...run.tools, r.tool];
    context.runs.set(r.runId, {
      runId: r.runId,
      tenantId: r.tenantId,
      agentId: r.agentId,
      tools: tools ?? (r.tool ? [r.tool] : []),
      lastCompletedStepId: run?.lastCompletedStepId ?? '',
      lastCompletedRequestId: run?.lastCompletedRequestId ?? '',
      lastSeenMs: Math.max(run?.lastSeenMs ?? 0, event.time),
    });
    forgetIdleRuns(context, event.time - liveForMs);
    return { ...context };
  }
  if (is(event, BudgetSettledSchema)) {
    // A completed step, as the budget stage accepted the agent's report; it may come before the decision is read.
    const e = event.data;
    const run = context.runs.get(e.runId);
    context.runs.set(e.runId, {
      runId: e.runId,
      tenantId: run?.tenantId ?? e.tenantId,
      agentId: run?.agentId ?? e.agentId,
      tools: run?.tools ?? [],
      lastCompletedStepId: e.stepId,
      lastCompletedRequestId: e.requestId,
      lastSeenMs: Math.max(run?.lastSeenMs ?? 0, event.time),
    });
    return { ...context };
  }
  return context;
}

/** Runs seen since `since` (ms). */
export function liveRuns(context: GateContext, since: number): LiveRun[] {
  return [...context.runs.values()].filter((r) => r.lastSeenMs >= since);
}

function forgetIdleRuns(context: GateContext, before: number): void {
  // Maps iterate in insertion order, and a run is re-inserted only when first seen: check the oldest few.
  let checked = 0;
  for (const [id, run] of context.runs) {
    if (checked++ > 16) break;
    if (run.lastSeenMs < before) context.runs.delete(id);
  }
}
