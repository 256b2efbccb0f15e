import { Body, Controller, Get, Param, ParseIntPipe, Put } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Input } from '@warden/platform';
import { ownTenant, tokenTenant } from '@warden/kernel';
import { Caller, CallerOf } from '@warden/platform/nest';
import { ChangeBudgets, GetPriceTable } from '../budget.cqrs';

@ApiTags('prices')
@Controller('price-table')
export class PricesHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Put()
  @ApiOperation({
    summary:
      'Publish a new version of the model price table (roles admin or owner): {currency (ISO 4217), prices: ' +
      '[{model, inputMicrosPer1k, outputMicrosPer1k}]}. Spend estimates without a cost use the latest version.',
  })
  publish(@Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    return this.commands.execute(
      new ChangeBudgets({
        type: 'PublishPriceTable',
        tenantId: tokenTenant(caller),
        currency: input.string('currency', { max: 8 }),
        prices: input.objects('prices').map((p) => ({
          model: p.string('model', { max: 200 }),
          inputMicrosPer1k: p.int('inputMicrosPer1k'),
          outputMicrosPer1k: p.int('outputMicrosPer1k'),
        })),
        by: caller.subject,
        roles: caller.roles,
        now: Date.now(),
      }),
    );
  }

  @Get()
  @ApiOperation({ summary: "The latest version of the caller tenant's model price table." })
  latest(@CallerOf() caller: Caller) {
    return this.queries.execute(new GetPriceTable(ownTenant(caller, 'tenant.read'), 0));
  }

  @Get('versions/:version')
  @ApiOperation({ summary: 'One version of the model price table.' })
  version(@Param('version', ParseIntPipe) version: number, @CallerOf() caller: Caller) {
    return this.queries.execute(new GetPriceTable(ownTenant(caller, 'tenant.read'), Math.max(1, version)));
  }
}
