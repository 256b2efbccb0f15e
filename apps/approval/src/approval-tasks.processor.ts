import {
  ActiveSwitches,
  approvalTaskId,
  CastApprovalVoteSchema,
  create,
  Envelope,
  evolveActiveSwitches,
  GateDecidedSchema,
  GateRequestedSchema,
  is,
  ReviewApprovalTasksSchema,
  Topic,
} from '@warden/contracts';
import {
  ApprovalRules,
  ApprovalTaskCommand,
  ApprovalTaskEvent,
  approvalTasks,
  ApprovalTasksState,
} from '@warden/approval-domain';
import { OFF_GATE_PATH, Processor, Route, ServiceRuntime, Table } from '@warden/platform';
import { contextOf, linksOf, RegistryContext, registryContextTable } from './registry-context.table';

export interface ApprovalTasksWiring {
  readonly processor: Processor<ApprovalTaskCommand, ApprovalTasksState, ApprovalTaskEvent>;
  readonly switches: Table<ActiveSwitches>;
  readonly registry: Table<RegistryContext>;
}

/**
 * The approval-tasks processor, the single writer of a run's tasks (stream = run id). Inputs:
 * gate decisions (open a task when pending approval, record a standing approval's use),
 * votes and review ticks from approval.commands. Every input first reviews the run's open
 * tasks: expires the overdue, denies those a kill switch covers, escalates the late.
 */
export function wireApprovalTasks(
  runtime: ServiceRuntime,
  options: { readonly instanceId: string; readonly rules: ApprovalRules },
): ApprovalTasksWiring {
  const { rules } = options;
  const switches = runtime.table<ActiveSwitches>(
    {
      name: 'approval-killswitches',
      topics: [Topic.killswitchEvents],
      initial: () => new Map(),
      evolve: evolveActiveSwitches,
    },
    options.instanceId,
  );
  const registry = runtime.table(registryContextTable, options.instanceId);
  const processor = runtime.process<ApprovalTaskCommand, ApprovalTasksState, ApprovalTaskEvent>({
    name: 'approval-tasks',
    inputs: [Topic.gateDecisions, Topic.approvalCommands],
    outputs: [Topic.approvalEvents],
    decider: approvalTasks,
    tables: [switches, registry],
    // Tasks wait for people; only pending_approval decisions of all of gate.decisions matter.
    batching: OFF_GATE_PATH,
    command(input, ctx): ApprovalTaskCommand | null {
      const now = ctx.now;
      if (is(input, GateDecidedSchema)) {
        const request = input.data.request ?? create(GateRequestedSchema);
        return {
          type: 'ReactToGateDecision',
          decision: input.data,
          // The id the pending decision names (context.approval.task_id): the same pure function.
          taskId: approvalTaskId(input.data.tenantId, input.data.runId, input.data.requestId),
          context: contextOf(registry.state, request),
          rules,
          switches: switches.state,
          now,
        };
      }
      if (is(input, CastApprovalVoteSchema)) {
        // Separation of duties knows the voter by every identity the tenant linked to it.
        const links = linksOf(registry.state, input.data.tenantId);
        return { type: 'CastVote', vote: input.data, switches: switches.state, rules, now, links };
      }
      if (is(input, ReviewApprovalTasksSchema)) {
        return { type: 'ReviewApprovalTasks', switches: switches.state, rules, now };
      }
      return null;
    },
    route: (_event, input) => routeOf(input),
  });
  return { processor, switches, registry };
}

/** Approval events stay on the run's stream: the input's key, and the input's ids. */
function routeOf(input: Envelope): Route {
  const ids = is(input, GateDecidedSchema) ? input.data : input;
  return {
    topic: Topic.approvalEvents,
    key: input.key,
    tenantId: ids.tenantId,
    agentId: ids.agentId,
    runId: is(input, GateDecidedSchema) ? ids.runId : input.key,
  };
}
