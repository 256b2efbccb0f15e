import { Body, Controller, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { invalid, ownTenant, tokenTenant } from '@warden/kernel';
import { Input } from '@warden/platform';
import { Caller, CallerOf } from '@warden/platform/nest';
import { AgentState, AgentStatus } from '@warden/registry-domain';
import { AgentFilter } from '@warden/registry-read-models';
import { GetAgent, HandleAgentCommand, ListAgents } from '../agents.cqrs';
import { profileOf } from './agent-profile.input';
import { agentView } from './agent.view';

const STATES: readonly AgentStatus[] = ['draft', 'active', 'suspended', 'retired'];

@ApiTags('agents')
@Controller('agents')
export class AgentsHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Register an agent as a draft in the caller tenant (roles admin or owner).' })
  async register(@Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    return this.run({
      type: 'RegisterAgent',
      agentId: input.string('agentId', { optional: true, max: 128 }) || randomUUID(),
      tenantId: tokenTenant(caller),
      profile: profileOf(input),
      ...this.change(input, caller),
    });
  }

  @Put(':id/profile')
  @HttpCode(200)
  @ApiOperation({ summary: 'Replace the profile at the expected version (roles admin or owner).' })
  async update(@Param('id') id: string, @Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    return this.run({
      type: 'UpdateAgentProfile',
      agentId: id,
      callerTenant: tokenTenant(caller),
      expectedVersion: input.int('expectedVersion', { min: 0 }),
      profile: profileOf(input),
      ...this.change(input, caller),
    });
  }

  @Post(':id/activate')
  @HttpCode(200)
  @ApiOperation({ summary: 'Activate a draft or suspended agent at the expected version (roles admin or owner).' })
  activate(@Param('id') id: string, @Body() body: unknown, @CallerOf() caller: Caller) {
    return this.lifecycle('ActivateAgent', id, body, caller);
  }

  @Post(':id/suspend')
  @HttpCode(200)
  @ApiOperation({ summary: 'Suspend an active agent (roles admin, owner or sre; reason required).' })
  suspend(@Param('id') id: string, @Body() body: unknown, @CallerOf() caller: Caller) {
    return this.lifecycle('SuspendAgent', id, body, caller);
  }

  @Post(':id/retire')
  @HttpCode(200)
  @ApiOperation({ summary: 'Retire an agent for good (role admin; reason required).' })
  retire(@Param('id') id: string, @Body() body: unknown, @CallerOf() caller: Caller) {
    return this.lifecycle('RetireAgent', id, body, caller);
  }

  @Get()
  @ApiOperation({
    summary: 'List the caller tenant’s agents: ?ownerTeam, tool, businessProcess, autonomyLevel, state.',
  })
  list(@Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    return this.queries.execute(new ListAgents(ownTenant(caller, 'tenant.read'), filterOf(Input.of(query))));
  }

  @Get(':id')
  @ApiOperation({ summary: 'One agent of the caller tenant, from the read model.' })
  get(@Param('id') id: string, @CallerOf() caller: Caller) {
    return this.queries.execute(new GetAgent(ownTenant(caller, 'tenant.read'), id));
  }

  private lifecycle(type: 'ActivateAgent' | 'SuspendAgent' | 'RetireAgent', id: string, body: unknown, caller: Caller) {
    const input = Input.of(body);
    return this.run({
      type,
      agentId: id,
      callerTenant: tokenTenant(caller),
      expectedVersion: input.int('expectedVersion', { min: 0 }),
      ...this.change(input, caller),
    });
  }

  private async run(command: HandleAgentCommand['command']) {
    const state: AgentState = await this.commands.execute(new HandleAgentCommand(command));
    return agentView(state);
  }

  private change(input: Input, caller: Caller) {
    return {
      by: caller.subject,
      roles: caller.roles,
      reason: input.string('reason', { optional: true, max: 2000 }),
      now: Date.now(),
    };
  }
}

function filterOf(query: Input): AgentFilter {
  const level = query.string('autonomyLevel', { optional: true, pattern: /^[0-4]$/ });
  const limit = query.string('limit', { optional: true, pattern: /^[1-9]\d{0,3}$/ });
  const state = query.string('state', { optional: true });
  if (state && !STATES.includes(state as AgentStatus))
    throw invalid('invalid_field', `state must be one of ${STATES.join(', ')}`, 'state');
  return {
    ownerTeam: query.string('ownerTeam', { optional: true, max: 200 }) || undefined,
    tool: query.string('tool', { optional: true, max: 128 }) || undefined,
    businessProcess: query.string('businessProcess', { optional: true, max: 200 }) || undefined,
    autonomyLevel: level ? Number(level) : undefined,
    state: (state as AgentStatus) || undefined,
    limit: limit ? Number(limit) : undefined,
  };
}
