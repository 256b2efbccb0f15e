import { create, Effect, KillSwitchEngagedSchema, RunHaltedSchema, ScopeSchema } from '@warden/contracts';
import { given } from '@warden/kernel';
import { LiveRun } from './kill-switch';
import { HaltCoveredRun, runHalts } from './run-halts';

const now = 1_700_000_000_000;
const run: LiveRun = {
  runId: 'r-1',
  tenantId: 'acme',
  agentId: 'bot',
  tools: [],
  lastCompletedStepId: 's-2',
  lastCompletedRequestId: 'req-2',
};
const ks = (switchId: string) =>
  create(KillSwitchEngagedSchema, {
    switchId,
    scope: create(ScopeSchema, { tenantId: 'acme' }),
    reason: `why ${switchId}`,
    effects: [Effect.SAFE_STATE],
  });
const cmd = (switches = [ks('ks-1')]): HaltCoveredRun => ({ type: 'HaltCoveredRun', run, switches, now });
const halted = (switchId: string) =>
  create(RunHaltedSchema, {
    runId: 'r-1',
    tenantId: 'acme',
    agentId: 'bot',
    switchId,
    reason: `why ${switchId}`,
    lastCompletedStepId: 's-2',
    lastCompletedRequestId: 'req-2',
    haltedAtMs: now,
  });

describe('run halts (requests that arrive while a safe-state switch covers their run)', () => {
  it('given a covered run not yet halted, when it sends a request, then RunHalted names its last completed step', () => {
    given(runHalts)
      .when(cmd())
      .then([halted('ks-1')]);
  });

  it('given the run was halted by that switch, when it sends another request, then nothing more', () => {
    given(runHalts, [halted('ks-1')])
      .when(cmd())
      .then([]);
  });

  it('given a second switch covers it, then the run is halted once per switch', () => {
    given(runHalts, [halted('ks-1')])
      .when(cmd([ks('ks-1'), ks('ks-2')]))
      .then([halted('ks-2')]);
  });

  it('given no switch covers the run, then nothing', () => {
    given(runHalts).when(cmd([])).then([]);
  });
});
