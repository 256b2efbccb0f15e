import { covering, Effect, GateDecidedSchema, is, KillSwitchEngaged, RunHalted, Topic } from '@warden/contracts';
import { applies, HaltCoveredRun, runHalts, RunHaltsState } from '@warden/killswitch-domain';
import { OFF_GATE_PATH, Processor, ServiceRuntime } from '@warden/platform';
import { GateContextTable, routeKillSwitchEvent, SwitchesTable } from './kill-switches';

/**
 * Effect 8 for runs that ask the gate while a safe-state switch covers them: partitioned by run
 * id like gate.decisions (whose decisions of the covered runs say they asked), so one instance owns each run; the changelog is killswitch.events
 * (RunHalted keyed by run id lands on the run's partition, whoever published it).
 */
export function wireRunHalts(
  runtime: ServiceRuntime,
  switches: SwitchesTable,
  context: GateContextTable,
): Processor<HaltCoveredRun, RunHaltsState, RunHalted> {
  // Whether any engaged switch puts runs in a safe state, recomputed only when the table changed.
  let checkedAt = -1;
  let armed = false;
  const anyArmed = (): boolean => {
    if (switches.version !== checkedAt) {
      checkedAt = switches.version;
      armed = [...switches.state.values()].some((s) => s.status === 'engaged' && applies(s.engaged, Effect.SAFE_STATE));
    }
    return armed;
  };
  return runtime.process<HaltCoveredRun, RunHaltsState, RunHalted>({
    name: 'killswitch-run-halts',
    inputs: [Topic.gateDecisions],
    outputs: [Topic.killswitchEvents],
    decider: runHalts,
    tables: [switches, context],
    // Orchestrators learn of the halt up to 50 ms later; the gate denies the run regardless.
    batching: OFF_GATE_PATH,
    // With no safe-state switch engaged (nearly always), gate requests are not even decoded.
    skip: () => !anyArmed(),
    command(input, ctx) {
      if (!is(input, GateDecidedSchema) || !input.data.request) return null;
      // A decision names the run that asked the gate (the request of record rides on it).
      const r = input.data.request;
      const active = new Map<string, KillSwitchEngaged>();
      for (const s of switches.state.values()) {
        // A request sent before the engage belongs to a run that was live then: the engage halted it.
        if (
          s.status === 'engaged' &&
          applies(s.engaged, Effect.SAFE_STATE) &&
          !s.haltedRuns.has(r.runId) &&
          r.requestedAtMs >= s.engaged.engagedAtMs
        )
          active.set(s.engaged.switchId, s.engaged);
      }
      if (active.size === 0) return null;
      const target = { tenantId: r.tenantId, agentId: r.agentId, runId: r.runId, tool: r.tool };
      const hit = covering(active, target, ctx.now);
      if (hit.length === 0) return null;
      const run = context.state.runs.get(r.runId);
      return {
        type: 'HaltCoveredRun',
        run: {
          runId: r.runId,
          tenantId: r.tenantId,
          agentId: r.agentId,
          tools: run?.tools ?? [],
          lastCompletedStepId: run?.lastCompletedStepId ?? '',
          lastCompletedRequestId: run?.lastCompletedRequestId ?? '',
        },
        switches: hit,
        now: ctx.now,
      };
    },
    route: (event) => routeKillSwitchEvent(event),
  });
}
