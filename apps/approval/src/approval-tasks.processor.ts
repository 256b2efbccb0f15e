import { ActiveSwitches, Envelope, evolveActiveSwitches, GateDecidedSchema, is, Topic } from '@warden/contracts';
import { ApprovalTaskCommand, ApprovalTaskEvent, approvalTasks, ApprovalTasksState } from '@warden/approval-domain';
import { Processor, Route, ServiceRuntime, Table } from '@warden/platform';

export interface ApprovalTasksWiring {
  readonly processor: Processor<ApprovalTaskCommand, ApprovalTasksState, ApprovalTaskEvent>;
  readonly switches: Table<ActiveSwitches>;
}

/**
 * The approval-tasks processor: for every gate decision of a run it expires that run's overdue
 * tasks, opens a task when the decision is pending approval, and denies the open tasks a kill
 * switch covers. Expiry and kill switches are only acted on when a decision for the run arrives;
 * a timer-driven sweep (and a reaction to KillSwitchEngaged itself) comes with the approval issue.
 */
export function wireApprovalTasks(
  runtime: ServiceRuntime,
  options: { readonly instanceId: string; readonly taskTtlMs: number },
): ApprovalTasksWiring {
  const switches = runtime.table<ActiveSwitches>(
    {
      name: 'approval-killswitches',
      topics: [Topic.killswitchEvents],
      initial: () => new Map(),
      evolve: evolveActiveSwitches,
    },
    options.instanceId,
  );
  const processor = runtime.process<ApprovalTaskCommand, ApprovalTasksState, ApprovalTaskEvent>({
    name: 'approval-tasks',
    inputs: [Topic.gateDecisions],
    outputs: [Topic.approvalEvents],
    decider: approvalTasks,
    tables: [switches],
    command(input, ctx) {
      if (!is(input, GateDecidedSchema)) return null;
      return {
        type: 'ReactToGateDecision',
        decision: input.data,
        taskId: ctx.id(),
        ttlMs: options.taskTtlMs,
        switches: switches.state,
        now: ctx.now,
      };
    },
    route: (_event, input) => routeOf(input),
  });
  return { processor, switches };
}

/** Approval events stay on the run's stream: the input's key, and the decision's ids. */
function routeOf(input: Envelope): Route {
  const ids = is(input, GateDecidedSchema) ? input.data : input;
  return {
    topic: Topic.approvalEvents,
    key: input.key,
    tenantId: ids.tenantId,
    agentId: ids.agentId,
    runId: ids.runId,
  };
}
