import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler, IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { notFound } from '@warden/kernel';
import { replyTopicSpec, rowView, rowViews, ServiceRuntime } from '@warden/platform';
import { AgentCommand } from '@warden/registry-domain';
import { AgentFilter, getAgent, inventory, listAgents } from '@warden/registry-read-models';
import { Registry, REGISTRY } from './registry';

/** Bus messages: a domain command for one agent, and the read-model queries (all tenant-scoped). */
export class HandleAgentCommand {
  constructor(readonly command: AgentCommand) {}
}
export class ListAgents {
  constructor(
    readonly tenantId: string,
    readonly filter: AgentFilter,
  ) {}
}
export class GetAgent {
  constructor(
    readonly tenantId: string,
    readonly agentId: string,
  ) {}
}
export class GetInventory {
  constructor(readonly tenantId: string) {}
}

@CommandHandler(HandleAgentCommand)
export class HandleAgentCommandHandler implements ICommandHandler<HandleAgentCommand> {
  constructor(
    @Inject(REGISTRY) private readonly registry: Registry,
    private readonly runtime: ServiceRuntime,
  ) {}

  async execute({ command }: HandleAgentCommand) {
    // The agent's reply topic exists before the agent does, so its SDK can subscribe at once (docs/adr/0070).
    if (command.type === 'RegisterAgent') {
      await this.runtime.port.ensureTopics([replyTopicSpec(this.runtime.prefix, command.tenantId, command.agentId)]);
    }
    const withCatalogue: AgentCommand =
      command.type === 'RegisterAgent'
        ? { ...command, catalogue: this.registry.catalogue(command.tenantId) }
        : command.type === 'UpdateAgentProfile'
          ? { ...command, catalogue: this.registry.catalogue(command.callerTenant) }
          : command;
    const { state } = await this.registry.agents.handle(command.agentId, withCatalogue, {
      now: command.now,
      eventId: () => randomUUID(),
    });
    return state;
  }
}

@QueryHandler(ListAgents)
export class ListAgentsHandler implements IQueryHandler<ListAgents> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ tenantId, filter }: ListAgents) {
    return rowViews(await listAgents(this.runtime.db, tenantId, filter));
  }
}

@QueryHandler(GetAgent)
export class GetAgentHandler implements IQueryHandler<GetAgent> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ tenantId, agentId }: GetAgent) {
    const row = await getAgent(this.runtime.db, tenantId, agentId);
    if (!row) throw notFound('agent_not_found', `no agent ${agentId}`);
    return rowView(row);
  }
}

@QueryHandler(GetInventory)
export class GetInventoryHandler implements IQueryHandler<GetInventory> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ tenantId }: GetInventory) {
    const { agents, ...counts } = await inventory(this.runtime.db, tenantId);
    return { ...counts, agents: rowViews(agents) };
  }
}

export const agentHandlers = [HandleAgentCommandHandler, ListAgentsHandler, GetAgentHandler, GetInventoryHandler];
