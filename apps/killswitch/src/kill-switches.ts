import { Topic } from '@warden/contracts';
import { KillSwitchCommand, killSwitch, KillSwitchEvent, KillSwitchState } from '@warden/killswitch-domain';
import { switchesProjection } from '@warden/killswitch-read-models';
import { CommandGateway, ServiceRuntime, streamTable } from '@warden/platform';

export type KillSwitchGateway = CommandGateway<KillSwitchCommand, KillSwitchState, KillSwitchEvent>;
export const KILL_SWITCHES = Symbol('KillSwitchGateway');

/** Wires the kill-switch aggregate and its read model into the runtime. */
export function wireKillSwitches(runtime: ServiceRuntime, instanceId: string): KillSwitchGateway {
  const table = runtime.table(streamTable('killswitch-switches', [Topic.killswitchEvents], killSwitch), instanceId);
  runtime.project(switchesProjection);
  return new CommandGateway(killSwitch, table, runtime.port, runtime.prefix, 'warden://killswitch', (event) => ({
    topic: Topic.killswitchEvents,
    key: event.switchId,
    tenantId: event.scope?.tenantId ?? '',
    agentId: event.scope?.agentId ?? '',
    runId: event.scope?.runId ?? '',
  }));
}
