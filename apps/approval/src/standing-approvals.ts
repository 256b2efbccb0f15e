import { Topic } from '@warden/contracts';
import {
  StandingApprovalCommand,
  StandingApprovalEvent,
  standingApprovals,
  StandingApprovalsState,
} from '@warden/approval-domain';
import { CommandGateway, ServiceRuntime, Table } from '@warden/platform';

export type StandingGateway = CommandGateway<StandingApprovalCommand, StandingApprovalsState, StandingApprovalEvent>;
export const STANDING_APPROVALS = Symbol('StandingGateway');

/** HTTP commands on a tenant's standing approvals: decided against the table, published to approval.events. */
export function standingGateway(runtime: ServiceRuntime, table: Table<Map<string, StandingApprovalsState>>) {
  return new CommandGateway(standingApprovals, table, runtime.port, runtime.prefix, 'warden://approval', (event) => ({
    topic: Topic.approvalEvents,
    key: `standing:${event.tenantId}`,
    tenantId: event.tenantId,
    agentId: '',
    runId: '',
  }));
}
