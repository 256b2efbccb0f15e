import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler, IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { KillSwitchCommand } from '@warden/killswitch-domain';
import { getSwitch, listSwitches, SwitchQuery } from '@warden/killswitch-read-models';
import { notFound } from '@warden/kernel';
import { ServiceRuntime } from '@warden/platform';
import { KILL_SWITCHES, KillSwitchGateway } from './kill-switches';

/** Bus messages: a domain command for one switch, and the two read-model queries. */
export class HandleKillSwitchCommand {
  constructor(readonly command: KillSwitchCommand) {}
}
export class ListKillSwitches {
  constructor(readonly query: SwitchQuery) {}
}
export class GetKillSwitch {
  constructor(readonly switchId: string) {}
}

@CommandHandler(HandleKillSwitchCommand)
export class HandleKillSwitchCommandHandler implements ICommandHandler<HandleKillSwitchCommand> {
  constructor(@Inject(KILL_SWITCHES) private readonly switches: KillSwitchGateway) {}

  async execute({ command }: HandleKillSwitchCommand) {
    const { state } = await this.switches.handle(command.switchId, command, {
      now: command.now,
      eventId: () => randomUUID(),
    });
    return state;
  }
}

@QueryHandler(ListKillSwitches)
export class ListKillSwitchesHandler implements IQueryHandler<ListKillSwitches> {
  constructor(private readonly runtime: ServiceRuntime) {}
  execute({ query }: ListKillSwitches) {
    return listSwitches(this.runtime.db, query);
  }
}

@QueryHandler(GetKillSwitch)
export class GetKillSwitchHandler implements IQueryHandler<GetKillSwitch> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ switchId }: GetKillSwitch) {
    const row = await getSwitch(this.runtime.db, switchId);
    if (!row) throw notFound('not_found', `no kill switch ${switchId}`);
    return row;
  }
}

export const killSwitchHandlers = [HandleKillSwitchCommandHandler, ListKillSwitchesHandler, GetKillSwitchHandler];
