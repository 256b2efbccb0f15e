import { Body, Controller, Get, Put } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { Input } from '@warden/platform';
import { Caller, CallerOf } from '@warden/platform/nest';
import { DefineRunBudget, GetRunBudget } from '../budget.cqrs';
import { callerTenant } from './caller-tenant';

@ApiTags('budgets')
@Controller('budgets')
export class BudgetsHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Put('run-defaults')
  @ApiOperation({
    summary:
      "Define the limits of every run of the caller's tenant (roles admin or owner): " +
      "{limits: [{dimension: 'tokens'|'tool_calls', limit}]}, 0 = unlimited; a dimension not listed uses the service default.",
  })
  define(@Body() body: unknown, @CallerOf() caller: Caller) {
    const tenantId = callerTenant(caller);
    const limits = Input.of(body)
      .objects('limits')
      .map((l) => ({ dimension: l.string('dimension', { max: 64 }), limit: l.int('limit') }));
    return this.commands.execute(
      new DefineRunBudget({
        type: 'DefineRunBudget',
        tenantId,
        budgetId: randomUUID(),
        limits,
        by: caller.subject,
        roles: caller.roles,
        now: Date.now(),
      }),
    );
  }

  @Get('run-defaults')
  @ApiOperation({ summary: "The limits every run of the caller's tenant gets, per dimension, and their source." })
  get(@CallerOf() caller: Caller) {
    return this.queries.execute(new GetRunBudget(callerTenant(caller)));
  }
}
