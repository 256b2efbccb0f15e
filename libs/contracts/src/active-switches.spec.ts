import { create } from '@bufbuild/protobuf';
import { ActiveSwitches, covering, evolveActiveSwitches } from './active-switches';
import { Envelope } from './envelope';
import {
  KillSwitchEngagedSchema,
  KillSwitchReleasedSchema,
  ScopeSchema,
} from './gen/warden/killswitch/v1/killswitch_pb';

const env = (data: Envelope['data']): Envelope => ({
  id: 'e',
  type: data.$typeName,
  source: 's',
  time: 0,
  key: 'k',
  tenantId: '',
  agentId: '',
  runId: '',
  data,
});
const target = { tenantId: 'acme', agentId: 'bot', runId: 'run-1', tool: 'payroll' };

describe('active kill switches', () => {
  const engage = (
    switchId: string,
    scope: Parameters<typeof create<typeof ScopeSchema>>[1],
    expiresAtMs = 0,
    engagedAtMs = 1,
  ) => env(create(KillSwitchEngagedSchema, { switchId, scope: create(ScopeSchema, scope), engagedAtMs, expiresAtMs }));

  it.each([
    ['global', {}, true],
    ['tenant', { tenantId: 'acme' }, true],
    ['other tenant', { tenantId: 'globex' }, false],
    ['agent', { agentId: 'bot' }, true],
    ['run', { runId: 'run-1' }, true],
    ['other run', { runId: 'run-2' }, false],
    ['tool', { tool: 'payroll' }, true],
    ['tenant and tool', { tenantId: 'acme', tool: 'payroll' }, true],
    ['tenant and other tool', { tenantId: 'acme', tool: 'deploy' }, false],
  ])('%s scope covers the request: %s', (_name, scope, covers) => {
    const active = evolveActiveSwitches(new Map(), engage('s', scope));
    expect(covering(active, target, 10).length > 0).toBe(covers);
  });

  it('stops covering after release or expiry', () => {
    let active: ActiveSwitches = evolveActiveSwitches(new Map(), engage('a', {}, 0));
    active = evolveActiveSwitches(active, engage('b', {}, 100));
    expect(covering(active, target, 50).map((s) => s.switchId)).toEqual(['a', 'b']);
    expect(covering(active, target, 100).map((s) => s.switchId)).toEqual(['a']);
    active = evolveActiveSwitches(active, env(create(KillSwitchReleasedSchema, { switchId: 'a' })));
    expect(covering(active, target, 50).map((s) => s.switchId)).toEqual(['b']);
  });
});
