import { Topic } from '@warden/contracts';
import { CommandGateway, ServiceRuntime, streamTable } from '@warden/platform';
import { HoldCommand, HoldEvent, holds, HoldsState } from '@warden/trace-domain';

export type HoldsGateway = CommandGateway<HoldCommand, HoldsState, HoldEvent>;
export const HOLDS = Symbol('HoldsGateway');

/** Holds are commands over HTTP, decided against the tenant's holds and recorded on trace.holds. */
export function wireHolds(runtime: ServiceRuntime, instanceId: string): HoldsGateway {
  const table = runtime.table(streamTable('trace-holds', [Topic.traceHolds], holds), instanceId);
  return new CommandGateway(holds, table, runtime.port, runtime.prefix, 'warden://trace', (event) => ({
    topic: Topic.traceHolds,
    key: event.tenantId,
    tenantId: event.tenantId,
    agentId: 'agentId' in event ? event.agentId : '',
    runId: 'runId' in event ? event.runId : '',
  }));
}
