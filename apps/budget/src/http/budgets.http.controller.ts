import { Body, Controller, Delete, Get, HttpCode, Param, Put, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Input } from '@warden/platform';
import { ownTenant, tokenTenant } from '@warden/kernel';
import { Caller, CallerOf } from '@warden/platform/nest';
import { ChangeBudgets, GetBudget, GetBudgetUsage, ListBudgets } from '../budget.cqrs';

@ApiTags('budgets')
@Controller('budgets')
export class BudgetsHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Get()
  @ApiOperation({ summary: "The caller tenant's budgets." })
  list(@CallerOf() caller: Caller) {
    return this.queries.execute(new ListBudgets(ownTenant(caller, 'tenant.read')));
  }

  @Put(':budgetId')
  @ApiOperation({
    summary:
      'Define or replace a budget (roles admin or owner): {name?, scope: tool|run|agent|tenant, subject?, ' +
      'limits: [{dimension: tokens|tool_calls|retries|time|spend|scope|risk, window?: run|rolling_hour|rolling_day|' +
      'rolling_month|calendar_hour|calendar_day|calendar_month, limit, currency? (spend, ISO 4217; limit in micros), ' +
      'degradeAtPercent?, askAtPercent?}]}. Returns once the BudgetDefined event is in Kafka and applied; ' +
      '400 problem+json naming the field for a bad definition (negative limit, unknown currency, overlapping window).',
  })
  define(@Param('budgetId') budgetId: string, @Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    return this.commands.execute(
      new ChangeBudgets({
        type: 'DefineBudget',
        tenantId: tokenTenant(caller),
        budgetId,
        name: input.string('name', { optional: true, max: 200 }),
        scope: input.string('scope', { max: 32 }),
        subject: input.string('subject', { optional: true, max: 200 }),
        limits: input.objects('limits').map((l) => ({
          dimension: l.string('dimension', { max: 32 }),
          window: l.string('window', { optional: true, max: 32 }),
          limit: l.int('limit'),
          currency: l.string('currency', { optional: true, max: 8 }),
          degradeAtPercent: l.int('degradeAtPercent', { optional: true }),
          askAtPercent: l.int('askAtPercent', { optional: true }),
        })),
        by: caller.subject,
        roles: caller.roles,
        now: Date.now(),
      }),
    );
  }

  @Get(':budgetId')
  @ApiOperation({ summary: 'One budget of the caller tenant.' })
  get(@Param('budgetId') budgetId: string, @CallerOf() caller: Caller) {
    return this.queries.execute(new GetBudget(ownTenant(caller, 'tenant.read'), budgetId));
  }

  @Delete(':budgetId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a budget (roles admin or owner); its usage history stays on Kafka.' })
  async remove(@Param('budgetId') budgetId: string, @CallerOf() caller: Caller): Promise<void> {
    await this.commands.execute(
      new ChangeBudgets({
        type: 'RemoveBudget',
        tenantId: tokenTenant(caller),
        budgetId,
        by: caller.subject,
        roles: caller.roles,
        now: Date.now(),
      }),
    );
  }

  @Get(':budgetId/usage')
  @ApiOperation({
    summary:
      "A budget's current usage per meter (scope key) in its window: held, used, limit, percent, threshold. " +
      'Run budgets count per run: pass ?runId=.',
  })
  usage(@Param('budgetId') budgetId: string, @Query('runId') runId: string | undefined, @CallerOf() caller: Caller) {
    return this.queries.execute(
      new GetBudgetUsage(ownTenant(caller, 'tenant.read'), budgetId, runId ?? '', Date.now()),
    );
  }
}
