import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { invalid, notFound, ownTenant, tokenTenant } from '@warden/kernel';
import { Input, rowView, rowViews, ServiceRuntime } from '@warden/platform';
import { Caller, CallerOf } from '@warden/platform/nest';
import { currentVersion, plainDefinition, ToolDefinitionInput, toolStream } from '@warden/registry-domain';
import { getToolContract, listToolContracts } from '@warden/registry-read-models';
import { Registry, REGISTRY } from '../registry';
import { changeBy } from './change';

function definitionOf(input: Input): ToolDefinitionInput {
  const rate = input.has('rateLimit') ? input.object('rateLimit') : undefined;
  return {
    tool: input.string('tool', { max: 128 }),
    description: input.string('description', { optional: true, max: 4000 }),
    capabilities: input.strings('capabilities', { optional: true }),
    mustNever: input.strings('mustNever', { optional: true }),
    prohibitions: input.objects('prohibitions', { optional: true }).map((p) => ({
      id: p.string('id', { optional: true, max: 128 }),
      description: p.string('description', { optional: true, max: 2000 }),
      when: p.string('when', { optional: true, max: 4000 }),
    })),
    inputSchema: input.json('inputSchema'),
    outputSchema: input.json('outputSchema'),
    dataClassesIn: input.strings('dataClassesIn', { optional: true }),
    dataClassesOut: input.strings('dataClassesOut', { optional: true }),
    rateLimit: rate && { calls: rate.int('calls'), windowMs: rate.int('windowMs') },
    actions: input.objects('actions').map((a) => ({
      name: a.string('name', { optional: true, max: 128 }),
      description: a.string('description', { optional: true, max: 2000 }),
      riskClass: a.string('riskClass', { optional: true, max: 32 }),
      requiresApproval: a.bool('requiresApproval', false),
      diffFrom: a.string('diffFrom', { optional: true, max: 500 }),
      blastRadiusFrom: a.string('blastRadiusFrom', { optional: true, max: 500 }),
      rollbackPath: a.string('rollbackPath', { optional: true, max: 2000 }),
      auditEvent: a.string('auditEvent', { optional: true, max: 200 }),
      approvalTtlMs: a.int('approvalTtlMs', { optional: true }),
    })),
    ownerTeam: input.string('ownerTeam', { optional: true, max: 200 }),
  };
}

@ApiTags('tools')
@Controller('tools')
export class ToolsHttpController {
  constructor(
    @Inject(REGISTRY) private readonly registry: Registry,
    private readonly runtime: ServiceRuntime,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Publish a tool contract (roles admin or owner). The same definition again changes nothing; a changed one is the next version, which agents must pin.',
  })
  async publish(@Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    const tenantId = tokenTenant(caller);
    const definition = definitionOf(input);
    const { events, state } = await this.registry.tools.handle(
      toolStream(tenantId, definition.tool),
      { type: 'PublishToolContract', tenantId, definition, ...changeBy(input, caller) },
      { eventId: () => randomUUID(), now: Date.now() },
    );
    const current = currentVersion(state);
    if (!current) throw notFound('contract_not_found', `no live contract for ${definition.tool}`);
    return { ...contractView(current.contract, current.withdrawn), published: events.length > 0 };
  }

  @Post(':tool/versions/:version/withdraw')
  @HttpCode(200)
  @ApiOperation({ summary: 'Withdraw a contract version (roles admin or owner; reason required).' })
  async withdraw(
    @Param('tool') tool: string,
    @Param('version') version: string,
    @Body() body: unknown,
    @CallerOf() caller: Caller,
  ) {
    const input = Input.of(body);
    const tenantId = tokenTenant(caller);
    const { state } = await this.registry.tools.handle(
      toolStream(tenantId, tool),
      { type: 'WithdrawToolContract', tenantId, tool, version, ...changeBy(input, caller) },
      { eventId: () => randomUUID(), now: Date.now() },
    );
    const withdrawn = state?.versions.get(version);
    return withdrawn && contractView(withdrawn.contract, withdrawn.withdrawn);
  }

  @Get()
  @ApiOperation({ summary: 'The caller tenant’s tool catalogue: ?tool, includeWithdrawn=true, limit.' })
  async list(@Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    const q = Input.of(query);
    const rows = await listToolContracts(this.runtime.db, ownTenant(caller, 'tenant.read'), {
      tool: q.string('tool', { optional: true, max: 128 }) || undefined,
      includeWithdrawn: q.string('includeWithdrawn', { optional: true, pattern: /^(true|false)$/ }) === 'true',
      limit: Number(q.string('limit', { optional: true, pattern: /^[1-9]\d{0,3}$/ }) || 100),
    });
    return rowViews(rows);
  }

  @Get(':tool/versions/:version')
  @ApiOperation({ summary: 'One version of a tool contract of the caller tenant.' })
  async get(@Param('tool') tool: string, @Param('version') version: string, @CallerOf() caller: Caller) {
    if (!/^[1-9]\d{0,8}$/.test(version)) throw invalid('invalid_field', 'version must be a number', 'version');
    const row = await getToolContract(this.runtime.db, ownTenant(caller, 'tenant.read'), tool, Number(version));
    if (!row) throw notFound('contract_not_found', `no contract ${tool} version ${version}`);
    return rowView(row);
  }
}

function contractView(contract: Parameters<typeof plainDefinition>[0], withdrawn: boolean) {
  return {
    ...plainDefinition(contract),
    version: contract.version,
    definitionDigest: contract.definitionDigest,
    withdrawn,
  };
}
