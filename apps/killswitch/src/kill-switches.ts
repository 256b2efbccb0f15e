import { Topic } from '@warden/contracts';
import { KillSwitchCommand, killSwitch, KillSwitchEvent, KillSwitchState } from '@warden/killswitch-domain';
import { switchesProjection } from '@warden/killswitch-read-models';
import { CommandGateway, ProjectionRunner, ServiceRuntime, streamTable, Table } from '@warden/platform';

export type KillSwitchGateway = CommandGateway<KillSwitchCommand, KillSwitchState, KillSwitchEvent>;
export const KILL_SWITCHES = Symbol('KillSwitchGateway');

/** Wires the kill-switch aggregate and its read model into the runtime. */
export function wireKillSwitches(runtime: ServiceRuntime, instanceId: string): KillSwitchGateway {
  const table = runtime.addTable(
    new Table(
      streamTable('killswitch-switches', [Topic.killswitchEvents], killSwitch),
      runtime.port,
      runtime.prefix,
      instanceId,
      runtime.logger,
    ),
  );
  runtime.addProjection(
    new ProjectionRunner(switchesProjection, {
      port: runtime.port,
      db: runtime.db,
      schema: 'killswitch',
      prefix: runtime.prefix,
      logger: runtime.logger,
      metrics: runtime.metrics,
    }),
  );
  return new CommandGateway(killSwitch, table, runtime.port, runtime.prefix, 'warden://killswitch', (event) => ({
    topic: Topic.killswitchEvents,
    key: event.switchId,
    tenantId: event.scope?.tenantId ?? '',
    agentId: event.scope?.agentId ?? '',
    runId: event.scope?.runId ?? '',
  }));
}
