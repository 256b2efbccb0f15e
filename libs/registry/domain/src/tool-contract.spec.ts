import { ChangeSchema, create, ToolContractWithdrawnSchema } from '@warden/contracts';
import { given } from '@warden/kernel';
import { agent, AgentCommand } from './agent';
import { ProfileInput } from './agent-profile';
import {
  canonicalJson,
  currentVersion,
  plainDefinition,
  ToolContractCommand,
  ToolContractEvent,
  toolContract,
  ToolDefinitionInput,
} from './tool-contract';

const now = 1_700_000_000_000;
const definition: ToolDefinitionInput = {
  tool: 'tickets',
  description: 'The ticket system',
  capabilities: ['read tickets', 'close tickets'],
  mustNever: ['delete tickets'],
  prohibitions: [{ id: 'no-bulk', description: 'no bulk close', when: 'size(args.ids) > 10' }],
  inputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
  outputSchema: { type: 'object' },
  dataClassesIn: ['internal', 'pii'],
  dataClassesOut: ['internal'],
  rateLimit: { calls: 10, windowMs: 60_000 },
  actions: [
    { name: 'read', riskClass: 'low', auditEvent: 'tickets.read' },
    { name: 'close', riskClass: 'high', requiresApproval: true, diffFrom: '/id', auditEvent: 'tickets.closed' },
  ],
  ownerTeam: 'support',
};
const publish = (over: Partial<ToolDefinitionInput> = {}, roles = ['owner']): ToolContractCommand => ({
  type: 'PublishToolContract',
  tenantId: 'acme',
  definition: { ...definition, ...over },
  by: 'olga',
  roles,
  reason: 'v1',
  now,
});
const withdraw = (version: string, reason = 'broken'): ToolContractCommand => ({
  type: 'WithdrawToolContract',
  tenantId: 'acme',
  tool: 'tickets',
  version,
  by: 'olga',
  roles: ['owner'],
  reason,
  now,
});
const history = (...commands: ToolContractCommand[]): ToolContractEvent[] => {
  const out: ToolContractEvent[] = [];
  for (const command of commands) out.push(...given(toolContract, out).when(command).thenEvents());
  return out;
};

describe('tool contract decider', () => {
  it('publishes version 1 with the sha256 digest of the canonical definition', () => {
    const [event] = given(toolContract).when(publish()).thenEvents();
    expect(event.$typeName).toBe('warden.registry.v1.ToolContractPublished');
    const contract = event.$typeName === 'warden.registry.v1.ToolContractPublished' ? event.contract! : undefined;
    expect(contract).toMatchObject({ tool: 'tickets', version: '1', ownerTeam: 'support' });
    expect(contract?.definitionDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(contract?.rateLimit).toMatchObject({ calls: 10, windowMs: 60_000 });
    expect(event.change).toEqual(create(ChangeSchema, { by: 'olga', reason: 'v1', atMs: now }));
  });

  it('is idempotent for the same definition, whatever the key order', () => {
    const events = history(publish());
    given(toolContract, events).when(publish()).then([]);
    const reordered = JSON.parse(canonicalJson(definition)) as ToolDefinitionInput;
    given(toolContract, events)
      .when(
        publish({
          ...reordered,
          inputSchema: { required: ['id'], properties: { id: { type: 'string' } }, type: 'object' },
        }),
      )
      .then([]);
  });

  it('makes a changed definition the next version, with another digest', () => {
    const events = history(publish(), publish({ description: 'The ticket system, now with tags' }));
    const state = given(toolContract, events).state!;
    expect([...state.versions.keys()]).toEqual(['1', '2']);
    expect(state.versions.get('1')!.contract.definitionDigest).not.toBe(
      state.versions.get('2')!.contract.definitionDigest,
    );
    expect(currentVersion(state)?.contract.version).toBe('2');
  });

  it.each<[Partial<ToolDefinitionInput>, string, string]>([
    [{ inputSchema: { type: 'nonsense' } }, 'invalid_schema', 'inputSchema.type'],
    [{ inputSchema: 'object' }, 'invalid_schema', 'inputSchema'],
    [
      { outputSchema: { properties: { a: { minLength: -1 } } } },
      'invalid_schema',
      'outputSchema.properties.a.minLength',
    ],
    [{ inputSchema: { $ref: '#/$defs/missing' } }, 'invalid_schema', 'inputSchema'],
    [{ dataClassesIn: ['public', 'gossip'] }, 'invalid_data_class', 'dataClassesIn[1]'],
    [{ actions: [] }, 'actions_required', 'actions'],
    [
      { actions: [{ name: 'read', riskClass: 'scary', auditEvent: 'x' }] },
      'invalid_risk_class',
      'actions[0].riskClass',
    ],
    [
      { actions: [{ name: 'read', riskClass: 'low', auditEvent: '' }] },
      'audit_event_required',
      'actions[0].auditEvent',
    ],
    [
      { actions: [{ name: 'read', riskClass: 'low', auditEvent: 'x', diffFrom: 'id' }] },
      'invalid_pointer',
      'actions[0].diffFrom',
    ],
    [
      { actions: [{ name: 'read', riskClass: 'low', auditEvent: 'x', approvalTtlMs: 999 }] },
      'invalid_approval_ttl',
      'actions[0].approvalTtlMs',
    ],
    [
      { actions: [{ name: 'read', riskClass: 'low', auditEvent: 'x', approvalTtlMs: 31 * 24 * 3_600_000 }] },
      'invalid_approval_ttl',
      'actions[0].approvalTtlMs',
    ],
    [
      { actions: [{ name: 'read', riskClass: 'low', auditEvent: 'x', approvalTtlMs: 1500.5 }] },
      'invalid_approval_ttl',
      'actions[0].approvalTtlMs',
    ],
    [{ rateLimit: { calls: 0, windowMs: 1 } }, 'invalid_rate_limit', 'rateLimit.calls'],
    [{ tool: 'a b' }, 'invalid_tool', 'tool'],
    [{ ownerTeam: '' }, 'owner_required', 'ownerTeam'],
    [{ prohibitions: [{ id: 'p', when: '' }] }, 'prohibition_condition_required', 'prohibitions[0].when'],
  ])('refuses %j, naming the field', (over, code, field) => {
    expect(given(toolContract).when(publish(over)).thenThrows('invalid', code).field).toBe(field);
  });

  it("records an action's approval TTL; a contract without one keeps the digest it had", () => {
    const [plain] = given(toolContract).when(publish()).thenEvents();
    const withTtl = {
      ...definition,
      actions: [definition.actions[0], { ...definition.actions[1], approvalTtlMs: 3_600_000 }],
    };
    const [timed] = given(toolContract).when(publish(withTtl)).thenEvents();
    const contractOf = (e: ToolContractEvent) =>
      e.$typeName === 'warden.registry.v1.ToolContractPublished' ? e.contract! : undefined;
    expect(contractOf(timed)!.actions.map((a) => a.approvalTtlMs)).toEqual([0, 3_600_000]);
    expect(contractOf(timed)!.definitionDigest).not.toBe(contractOf(plain)!.definitionDigest);
    // A definition without TTLs is digested as before TTLs existed: the field is not in its text.
    expect(canonicalJson(plainDefinition(contractOf(plain)!))).not.toContain('approvalTtlMs');
    expect(canonicalJson(plainDefinition(contractOf(timed)!))).toContain('"approvalTtlMs":3600000');
  });

  it('needs the role admin or owner', () => {
    given(toolContract)
      .when(publish({}, ['sre']))
      .thenThrows('forbidden', 'role_required');
  });

  it('withdraws a version; the current version falls back; a later publish is a new version', () => {
    const events = history(publish(), publish({ description: 'v2' }));
    const withdrawn = create(ToolContractWithdrawnSchema, {
      tenantId: 'acme',
      tool: 'tickets',
      version: '2',
      change: create(ChangeSchema, { by: 'olga', reason: 'broken', atMs: now }),
    });
    given(toolContract, events).when(withdraw('2')).then([withdrawn]);
    const state = given(toolContract, [...events, withdrawn]).state!;
    expect(currentVersion(state)?.contract.version).toBe('1');
    given(toolContract, [...events, withdrawn])
      .when(withdraw('2'))
      .thenThrows('conflict', 'already_withdrawn');
    given(toolContract, events).when(withdraw('9')).thenThrows('not_found', 'contract_not_found');
    given(toolContract, events).when(withdraw('1', '')).thenThrows('invalid', 'reason_required');
  });
});

describe('agent decider: pinning tool contracts', () => {
  const contracts = given(toolContract, history(publish(), publish({ description: 'v2' }), withdraw('2'))).state!;
  const v1 = contracts.versions.get('1')!.contract;
  const profile = (tools: ProfileInput['tools']): ProfileInput => ({
    mission: 'answer tickets',
    owner: { team: 'support' },
    environments: ['prod'],
    autonomyLevel: 2,
    tools,
  });
  const register = (tools: ProfileInput['tools']): AgentCommand => ({
    type: 'RegisterAgent',
    agentId: 'bot',
    tenantId: 'acme',
    profile: profile(tools),
    catalogue: (tool) => (tool === 'tickets' ? contracts : undefined),
    by: 'olga',
    roles: ['owner'],
    reason: 'new',
    now,
  });
  const pin = { tool: 'tickets', actions: ['read'], contractVersion: '1', definitionDigest: v1.definitionDigest };

  it('accepts a pin to a live version with its exact digest, and an unpinned tool', () => {
    const [event] = given(agent)
      .when(register([pin]))
      .thenEvents();
    expect(event.$typeName === 'warden.registry.v1.AgentRegistered' && event.profile?.tools[0]).toMatchObject({
      contractVersion: '1',
      definitionDigest: v1.definitionDigest,
    });
    given(agent)
      .when(register([{ tool: 'tickets', actions: ['read'] }]))
      .thenEvents();
  });

  it.each<[string, object, string, string]>([
    ['an unknown tool', { tool: 'wiki' }, 'unknown_tool', 'tools[0].tool'],
    ['an unknown version', { contractVersion: '7' }, 'unknown_contract_version', 'tools[0].contractVersion'],
    ['a withdrawn version', { contractVersion: '2' }, 'contract_withdrawn', 'tools[0].contractVersion'],
    ['a changed definition', { definitionDigest: 'sha256:00' }, 'digest_mismatch', 'tools[0].definitionDigest'],
    ['an action the contract lacks', { actions: ['read', 'delete'] }, 'unknown_action', 'tools[0].actions[1]'],
  ])('refuses a pin to %s, naming the field', (_name, over, code, field) => {
    expect(
      given(agent)
        .when(register([{ ...pin, ...over }]))
        .thenThrows('invalid', code).field,
    ).toBe(field);
  });
});
