import { KillSwitchEngaged, RunHalted } from '@warden/contracts';
import { assertNever, Decider } from '@warden/kernel';
import { LiveRun, runHalted } from './kill-switch';

/**
 * Halting runs that ask the gate for something while a switch with the safe-state effect covers
 * them (runs that were live at engage time are halted by the engage itself). Stream = run id;
 * state = the switches that already halted the run, so each switch halts a run once.
 */
export type RunHaltsState = ReadonlySet<string>;

export interface HaltCoveredRun {
  readonly type: 'HaltCoveredRun';
  readonly run: LiveRun;
  /** Safe-state switches covering the request now, minus those known to have halted the run already. */
  readonly switches: readonly KillSwitchEngaged[];
  readonly now: number;
}

export const runHalts: Decider<HaltCoveredRun, RunHaltsState, RunHalted> = {
  initialState: new Set(),

  decide(command, state) {
    switch (command.type) {
      case 'HaltCoveredRun':
        return command.switches
          .filter((s) => !state.has(s.switchId))
          .map((s) => runHalted(s, command.run, command.now));
      default:
        return assertNever(command.type, 'command');
    }
  },

  evolve(state, event) {
    if (event.$typeName !== 'warden.killswitch.v1.RunHalted' || state.has(event.switchId)) return state;
    return new Set([...state, event.switchId]);
  },
};
