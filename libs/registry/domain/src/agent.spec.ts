import {
  AgentActivatedSchema,
  AgentProfileUpdatedSchema,
  AgentRegisteredSchema,
  AgentRetiredSchema,
  AgentSuspendedSchema,
  ChangeSchema,
  create,
  MemoryClass,
} from '@warden/contracts';
import { given } from '@warden/kernel';
import { agent, AgentCommand, AgentEvent } from './agent';
import { ProfileInput, validProfile } from './agent-profile';

const now = 1_700_000_000_000;
const profile: ProfileInput = {
  mission: 'pay the right people',
  owner: { team: 'payroll', contact: 'payroll@example.com' },
  businessProcess: 'payroll',
  model: 'gpt-5',
  tools: [{ tool: 'payroll', actions: ['read', 'draft'] }],
  memory: [{ store: 'notes', memoryClass: 'session', read: true, write: true }],
  forbiddenMemoryClasses: ['shared'],
  environments: ['prod'],
  autonomyLevel: 2,
  shutdownPath: 'disable the payroll connector',
};

type Of<T extends AgentCommand['type']> = Extract<AgentCommand, { type: T }>;
const register = (over: Partial<Of<'RegisterAgent'>> = {}): AgentCommand => ({
  type: 'RegisterAgent',
  agentId: 'payroll-bot',
  tenantId: 'acme',
  profile,
  by: 'alice',
  roles: ['owner'],
  reason: 'new agent',
  now,
  ...over,
});
const change = <T extends Exclude<AgentCommand['type'], 'RegisterAgent'>>(
  type: T,
  over: Partial<Of<T>> = {},
): AgentCommand =>
  ({
    type,
    agentId: 'payroll-bot',
    callerTenant: 'acme',
    expectedVersion: 1,
    by: 'bob',
    roles: ['admin'],
    reason: 'because',
    now: now + 1,
    ...(type === 'UpdateAgentProfile' ? { profile } : {}),
    ...over,
  }) as AgentCommand;

const by = (who: string, reason: string, at: number) => create(ChangeSchema, { by: who, reason, atMs: at });
const registered = create(AgentRegisteredSchema, {
  agentId: 'payroll-bot',
  tenantId: 'acme',
  profile: validProfile(profile),
  version: 1,
  change: by('alice', 'new agent', now),
});
const ids = { agentId: 'payroll-bot', tenantId: 'acme' };
const activated = (version: number) =>
  create(AgentActivatedSchema, { ...ids, version, change: by('bob', 'because', now + 1) });
const suspended = (version: number) =>
  create(AgentSuspendedSchema, { ...ids, version, change: by('bob', 'because', now + 1) });
const retired = (version: number) =>
  create(AgentRetiredSchema, { ...ids, version, change: by('bob', 'because', now + 1) });

const histories: Record<'draft' | 'active' | 'suspended' | 'retired', AgentEvent[]> = {
  draft: [registered],
  active: [registered, activated(2)],
  suspended: [registered, activated(2), suspended(3)],
  retired: [registered, retired(2)],
};

describe('agent decider: register', () => {
  it('registers a draft at version 1 with tenant, full profile, who and why', () => {
    given(agent).when(register()).then([registered]);
    const state = given(agent, [registered]).state;
    expect(state).toMatchObject({ status: 'draft', version: 1, tenantId: 'acme', agentId: 'payroll-bot' });
  });

  it('stores memory classes and tool grants in wire form', () => {
    const p = registered.profile!;
    expect(p.memory[0].memoryClass).toBe(MemoryClass.SESSION);
    expect(p.forbiddenMemoryClasses).toEqual([MemoryClass.SHARED]);
    expect(p.tools.map((t) => [t.tool, t.actions])).toEqual([['payroll', ['read', 'draft']]]);
  });

  it('refuses an agent id that is taken, in any tenant', () => {
    given(agent, [registered]).when(register()).thenThrows('conflict', 'already_exists');
    given(agent, [registered])
      .when(register({ tenantId: 'globex' }))
      .thenThrows('conflict', 'already_exists');
  });

  it('needs the role admin or owner', () => {
    given(agent)
      .when(register({ roles: ['sre', 'approver'] }))
      .thenThrows('forbidden', 'role_required');
    given(agent)
      .when(register({ roles: ['admin'] }))
      .thenEvents();
  });

  it.each([
    [{ agentId: 'has space' }, 'invalid_agent_id', 'agentId'],
    [{ agentId: '' }, 'invalid_agent_id', 'agentId'],
    [{ tenantId: '' }, 'invalid_tenant_id', 'tenantId'],
    [{ tenantId: 'a/b' }, 'invalid_tenant_id', 'tenantId'],
  ])('refuses bad ids %j, naming the field', (over, code, field) => {
    expect(given(agent).when(register(over)).thenThrows('invalid', code).field).toBe(field);
  });

  it.each<[string, Partial<ProfileInput>, string, string]>([
    ['a blank mission', { mission: '  ' }, 'mission_required', 'mission'],
    ['no owner team', { owner: { team: '', contact: 'x' } }, 'owner_required', 'owner.team'],
    ['autonomy above 4', { autonomyLevel: 5 }, 'invalid_autonomy_level', 'autonomyLevel'],
    ['negative autonomy', { autonomyLevel: -1 }, 'invalid_autonomy_level', 'autonomyLevel'],
    ['fractional autonomy', { autonomyLevel: 1.5 }, 'invalid_autonomy_level', 'autonomyLevel'],
    ['no environments', { environments: [] }, 'environments_required', 'environments'],
    ['a bad environment id', { environments: ['prod', 'x y'] }, 'invalid_environment', 'environments[1]'],
    ['a tool without a name', { tools: [{ tool: '', actions: ['read'] }] }, 'invalid_tool', 'tools[0].tool'],
    ['a tool without actions', { tools: [{ tool: 'crm', actions: [] }] }, 'missing_actions', 'tools[0].actions'],
    ['a bad action', { tools: [{ tool: 'crm', actions: ['read', ''] }] }, 'invalid_action', 'tools[0].actions[1]'],
    [
      'a repeated action',
      { tools: [{ tool: 'crm', actions: ['read', 'read'] }] },
      'duplicate_action',
      'tools[0].actions',
    ],
    [
      'a duplicate tool',
      {
        tools: [
          { tool: 'crm', actions: ['read'] },
          { tool: 'crm', actions: ['write'] },
        ],
      },
      'duplicate_tool',
      'tools[1].tool',
    ],
    [
      'an unknown memory class',
      { memory: [{ store: 'notes', memoryClass: 'forever', read: true, write: false }] },
      'invalid_memory_class',
      'memory[0].memoryClass',
    ],
    [
      'a memory access without store',
      { memory: [{ store: '', memoryClass: 'working', read: true, write: false }] },
      'invalid_memory_store',
      'memory[0].store',
    ],
    [
      'an unknown forbidden memory class',
      { forbiddenMemoryClasses: ['working', 'unspecified'] },
      'invalid_memory_class',
      'forbiddenMemoryClasses[1]',
    ],
    ['a bad delegate id', { delegatesTo: ['ok', 'not ok'] }, 'invalid_delegate', 'delegatesTo[1]'],
  ])('refuses a profile with %s, naming the field', (_what, over, code, field) => {
    const error = given(agent)
      .when(register({ profile: { ...profile, ...over } }))
      .thenThrows('invalid', code);
    expect(error.field).toBe(field);
    const update = given(agent, [registered])
      .when(change('UpdateAgentProfile', { profile: { ...profile, ...over } }))
      .thenThrows('invalid', code);
    expect(update.field).toBe(field);
  });

  it('accepts every autonomy level from 0 to 4 and every memory class', () => {
    for (const autonomyLevel of [0, 1, 2, 3, 4]) {
      given(agent)
        .when(register({ profile: { ...profile, autonomyLevel } }))
        .thenEvents();
    }
    const memory = ['working', 'session', 'durable', 'shared'].map((memoryClass) => ({
      store: 's',
      memoryClass,
      read: true,
      write: false,
    }));
    given(agent)
      .when(register({ profile: { ...profile, memory } }))
      .thenEvents();
  });
});

describe('agent decider: profile updates', () => {
  const updated = { ...profile, mission: 'pay the right people on time', tools: [] };

  it('replaces the profile at the next version, recording who and why', () => {
    given(agent, histories.active)
      .when(change('UpdateAgentProfile', { expectedVersion: 2, profile: updated, roles: ['owner'] }))
      .then([
        create(AgentProfileUpdatedSchema, {
          ...ids,
          profile: validProfile(updated),
          version: 3,
          change: by('bob', 'because', now + 1),
        }),
      ]);
  });

  it('updates drafts and suspended agents, never retired ones', () => {
    given(agent, histories.draft).when(change('UpdateAgentProfile')).thenEvents();
    given(agent, histories.suspended)
      .when(change('UpdateAgentProfile', { expectedVersion: 3 }))
      .thenEvents();
    given(agent, histories.retired)
      .when(change('UpdateAgentProfile', { expectedVersion: 2 }))
      .thenThrows('conflict', 'invalid_transition');
  });

  it('needs the role admin or owner', () => {
    given(agent, histories.draft)
      .when(change('UpdateAgentProfile', { roles: ['sre'] }))
      .thenThrows('forbidden', 'role_required');
  });
});

describe('agent decider: lifecycle', () => {
  it.each<[Exclude<AgentCommand['type'], 'RegisterAgent' | 'UpdateAgentProfile'>, keyof typeof histories, AgentEvent]>([
    ['ActivateAgent', 'draft', activated(2)],
    ['ActivateAgent', 'suspended', activated(4)],
    ['SuspendAgent', 'active', suspended(3)],
    ['RetireAgent', 'draft', retired(2)],
    ['RetireAgent', 'active', retired(3)],
    ['RetireAgent', 'suspended', retired(4)],
  ])('%s from %s', (type, from, event) => {
    const history = histories[from];
    given(agent, history)
      .when(change(type, { expectedVersion: history.length }))
      .then([event]);
    const to = { ActivateAgent: 'active', SuspendAgent: 'suspended', RetireAgent: 'retired' }[type];
    expect(given(agent, [...history, event]).state).toMatchObject({ status: to, version: history.length + 1 });
  });

  it.each<[Exclude<AgentCommand['type'], 'RegisterAgent' | 'UpdateAgentProfile'>, keyof typeof histories]>([
    ['ActivateAgent', 'active'],
    ['ActivateAgent', 'retired'],
    ['SuspendAgent', 'draft'],
    ['SuspendAgent', 'suspended'],
    ['SuspendAgent', 'retired'],
    ['RetireAgent', 'retired'],
  ])('refuses %s from %s as an invalid transition', (type, from) => {
    given(agent, histories[from])
      .when(change(type, { expectedVersion: histories[from].length }))
      .thenThrows('conflict', 'invalid_transition');
  });

  it('lets admin or owner activate, adds sre for suspend, and only admin retires', () => {
    const at = (type: Parameters<typeof change>[0], from: keyof typeof histories, roles: string[]) =>
      given(agent, histories[from]).when(change(type, { expectedVersion: histories[from].length, roles }));
    at('ActivateAgent', 'draft', ['owner']).thenEvents();
    at('ActivateAgent', 'draft', ['sre']).thenThrows('forbidden', 'role_required');
    at('SuspendAgent', 'active', ['sre']).thenEvents();
    at('SuspendAgent', 'active', ['owner']).thenEvents();
    at('SuspendAgent', 'active', ['approver', 'auditor']).thenThrows('forbidden', 'role_required');
    at('RetireAgent', 'active', ['owner', 'sre']).thenThrows('forbidden', 'role_required');
  });

  it('requires a reason to suspend or retire, naming the field; not to activate', () => {
    for (const type of ['SuspendAgent', 'RetireAgent'] as const) {
      const error = given(agent, histories.active)
        .when(change(type, { expectedVersion: 2, reason: ' ' }))
        .thenThrows('invalid', 'reason_required');
      expect(error.field).toBe('reason');
    }
    given(agent, histories.draft)
      .when(change('ActivateAgent', { reason: '' }))
      .thenEvents();
  });
});

describe('agent decider: versions and tenants', () => {
  it.each(['UpdateAgentProfile', 'ActivateAgent', 'SuspendAgent', 'RetireAgent'] as const)(
    '%s at a stale version is a conflict on expectedVersion',
    (type) => {
      for (const expectedVersion of [1, 3]) {
        const error = given(agent, histories.active)
          .when(change(type, { expectedVersion }))
          .thenThrows('conflict', 'stale_version');
        expect(error.field).toBe('expectedVersion');
      }
    },
  );

  it.each(['UpdateAgentProfile', 'ActivateAgent', 'SuspendAgent', 'RetireAgent'] as const)(
    '%s from another tenant, even an admin, is not found; so is an unknown agent',
    (type) => {
      const error = given(agent, histories.draft)
        .when(change(type, { callerTenant: 'globex', expectedVersion: 1 }))
        .thenThrows('not_found', 'agent_not_found');
      expect(error.message).not.toContain('acme');
      given(agent).when(change(type)).thenThrows('not_found', 'agent_not_found');
    },
  );

  it('checks the tenant before the version, so a stale call from another tenant learns nothing', () => {
    given(agent, histories.active)
      .when(change('SuspendAgent', { callerTenant: 'globex', expectedVersion: 7 }))
      .thenThrows('not_found', 'agent_not_found');
  });
});

describe('agent evolve', () => {
  const active = given(agent, histories.active).state;

  it('returns the same state for an event that is not the next version (a lost race or a duplicate)', () => {
    expect(agent.evolve(active, suspended(2))).toBe(active);
    expect(agent.evolve(active, suspended(4))).toBe(active);
    expect(agent.evolve(active, activated(2))).toBe(active);
    expect(agent.evolve(active, registered)).toBe(active);
  });

  it('is idempotent: replaying the history twice gives the same state', () => {
    const twice = given(agent, [...histories.suspended, ...histories.suspended]).state;
    expect(twice).toEqual(given(agent, histories.suspended).state);
  });

  it('rejects events that do not fit the state: before registration, an illegal step, another tenant', () => {
    const none = agent.initialState;
    expect(agent.evolve(none, activated(1))).toBe(none);
    expect(agent.evolve(none, create(AgentRegisteredSchema, { ...registered, profile: undefined }))).toBe(none);
    expect(agent.evolve(active, activated(3))).toBe(active);
    const retiredState = given(agent, histories.retired).state;
    expect(agent.evolve(retiredState, activated(3))).toBe(retiredState);
    expect(agent.evolve(active, create(AgentSuspendedSchema, { ...suspended(3), tenantId: 'globex' }))).toBe(active);
  });

  it('keeps who registered the agent and who changed it last', () => {
    expect(given(agent, histories.active).state).toMatchObject({
      registered: { by: 'alice', reason: 'new agent' },
      lastChange: { by: 'bob', reason: 'because', atMs: now + 1 },
    });
  });
});
