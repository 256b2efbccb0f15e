import { Controller, Get } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ownTenant } from '@warden/kernel';
import { Caller, CallerOf } from '@warden/platform/nest';
import { GetInventory } from '../agents.cqrs';

@ApiTags('inventory')
@Controller('inventory')
export class InventoryHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get()
  @ApiOperation({
    summary:
      'Which agents of the caller tenant are running, who owns them, which tools they can touch, how to stop each.',
  })
  get(@CallerOf() caller: Caller) {
    return this.queries.execute(new GetInventory(ownTenant(caller, 'tenant.read')));
  }
}
