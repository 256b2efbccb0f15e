import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { invalid, ownTenant } from '@warden/kernel';
import { Caller, CallerOf } from '@warden/platform/nest';
import { COST_GROUPS, CostGroup } from '@warden/budget-read-models';
import { GetCosts, GetRunUsage, GetTenantUsage } from '../budget.cqrs';

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/;

function time(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!ISO_TIME.test(value) || Number.isNaN(Date.parse(value))) {
    throw invalid('invalid_field', `${name} must be an ISO 8601 date or time`, name);
  }
  return value;
}

@ApiTags('usage')
@Controller()
export class UsageHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get('usage')
  @ApiOperation({
    summary:
      "The caller tenant's cross-run meters (tool-wide, agent and tenant budgets) in their current window: " +
      'held, used, limit, percent, threshold.',
  })
  tenant(@CallerOf() caller: Caller) {
    return this.queries.execute(new GetTenantUsage(ownTenant(caller, 'tenant.read'), Date.now()));
  }

  @Get('runs/:runId/usage')
  @ApiOperation({
    summary:
      "A run's budget usage: tokens held, settled and released, reservations, refusals, cost, and the run's own meters.",
  })
  run(@Param('runId') runId: string, @CallerOf() caller: Caller) {
    return this.queries.execute(new GetRunUsage(ownTenant(caller, 'tenant.read'), runId, Date.now()));
  }

  @Get('costs')
  @ApiOperation({
    summary:
      'Spend rolled up per run, agent or business outcome (?by=run|agent|outcome, optional key, from, to, limit): ' +
      'cost in micros per currency, tokens, steps and failed steps, dearest first.',
  })
  costs(
    @Query('by') by: string | undefined,
    @Query('key') key: string | undefined,
    @Query('from') from: string | undefined,
    @Query('to') to: string | undefined,
    @Query('limit') limit: string | undefined,
    @CallerOf() caller: Caller,
  ) {
    const tenantId = ownTenant(caller, 'tenant.read');
    if (!by || !Object.hasOwn(COST_GROUPS, by)) {
      throw invalid('invalid_field', `by must be one of ${Object.keys(COST_GROUPS).join(', ')}`, 'by');
    }
    const rows = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(rows) || rows < 1 || rows > 1000) {
      throw invalid('invalid_field', 'limit must be an integer from 1 to 1000', 'limit');
    }
    return this.queries.execute(
      new GetCosts(tenantId, by as CostGroup, {
        key: key || undefined,
        from: time('from', from),
        to: time('to', to),
        limit: rows,
      }),
    );
  }
}
