import { BudgetDefinedSchema, BudgetScope, create, Dimension, LimitSchema, Topic } from '@warden/contracts';
import { createServiceRuntime, DEV_KEY_ENCRYPTION_KEY, KafkaPort, ServiceRuntime, toRecord } from '@warden/platform';
import {
  connectedPort,
  eventually,
  freshDatabase,
  kafkaBrokers,
  signedAsOwners,
  uniquePrefix,
} from '@warden/platform/testing';
import { agent, AgentCommand, AgentEvent, AgentState, ProfileInput } from '@warden/registry-domain';
import {
  agentBudgetsProjection,
  agentsProjection,
  getAgent,
  inventory,
  listAgents,
} from '@warden/registry-read-models';
import { readRegistryConfig } from './config';
import { Init1763700000000 } from './migrations/1763700000000-init';
import { Identity1763800000000 } from './migrations/1763800000000-identity';

/** The agents read model on the real broker and database: events in, rows and queries out. */
describe('registry.agents read model (real Kafka and Postgres)', () => {
  const prefix = uniquePrefix('registry-rm');
  let db: { url: string; drop(): Promise<void> };
  let runtime: ServiceRuntime;
  let port: KafkaPort;
  let now = 1_700_000_000_000;

  const profile = (over: Partial<ProfileInput>): ProfileInput => ({
    mission: 'help',
    owner: { team: 'payroll', contact: 'payroll@example.com' },
    environments: ['prod'],
    autonomyLevel: 2,
    tools: [{ tool: 'payroll', actions: ['read'] }],
    shutdownPath: 'disable the connector',
    ...over,
  });

  /** Runs commands through the decider, as the gateway does, and returns the events in order. */
  function history(agentId: string, tenantId: string, p: ProfileInput, steps: AgentCommand['type'][]): AgentEvent[] {
    let state: AgentState = agent.initialState;
    const out: AgentEvent[] = [];
    const run = (command: AgentCommand) => {
      for (const event of agent.decide(command, state)) {
        state = agent.evolve(state, event);
        out.push(event);
      }
    };
    const who = { by: 'alice', roles: ['admin'], reason: 'test', now: now++ };
    run({ type: 'RegisterAgent', agentId, tenantId, profile: p, ...who });
    for (const type of steps) {
      const version = state.status === 'none' ? 0 : state.version;
      run({ type, agentId, callerTenant: tenantId, expectedVersion: version, ...who } as AgentCommand);
    }
    return out;
  }

  const publish = (events: readonly AgentEvent[]) =>
    port.publish(
      signedAsOwners(
        prefix,
        events.map((event, i) =>
          toRecord(prefix, 'test', `${event.agentId}-${event.version}-${i}-${now++}`, now, event, {
            topic: Topic.registryEvents,
            key: event.agentId,
            tenantId: event.tenantId,
            agentId: event.agentId,
            runId: '',
          }),
        ),
      ),
    );

  const caughtUp = () => eventually(async () => (await runtime.projection('agents').lag()) === 0);

  beforeAll(async () => {
    db = await freshDatabase('registry_rm');
    const config = readRegistryConfig({
      KAFKA_BROKERS: kafkaBrokers().join(','),
      DATABASE_URL: db.url,
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_PARTITIONS: '3',
      LOG_LEVEL: 'error',
      WARDEN_KEY_ENCRYPTION_KEY: DEV_KEY_ENCRYPTION_KEY,
    });
    runtime = createServiceRuntime('registry', config, {
      schema: 'registry',
      migrations: [Init1763700000000, Identity1763800000000],
    });
    runtime.project(agentsProjection);
    runtime.project(agentBudgetsProjection);
    await runtime.start();
    port = await connectedPort('registry-rm');

    const crm = history(
      'crm-bot',
      'acme',
      profile({
        owner: { team: 'sales' },
        businessProcess: 'lead-gen',
        autonomyLevel: 3,
        tools: [
          { tool: 'crm', actions: ['read', 'write'] },
          { tool: 'email', actions: ['send'] },
        ],
        memory: [{ store: 'leads', memoryClass: 'durable', read: true, write: true }],
      }),
      ['ActivateAgent', 'SuspendAgent'],
    );
    // A retire that lost the race against the suspend: same version, published after it.
    const lost = history('crm-bot', 'acme', profile({}), ['ActivateAgent', 'RetireAgent']).at(-1)!;
    await publish([
      ...history('payroll-bot', 'acme', profile({ businessProcess: 'payroll', labels: { cost: 'hr' } }), [
        'ActivateAgent',
      ]),
      ...crm,
      lost,
      ...history(
        'draft-bot',
        'acme',
        profile({ autonomyLevel: 0, tools: [{ tool: 'email', actions: ['draft'] }] }),
        [],
      ),
      ...history('payroll-x', 'globex', profile({ businessProcess: 'payroll' }), ['ActivateAgent']),
    ]);
    await caughtUp();
  });

  afterAll(async () => {
    await port?.close();
    await runtime?.stop();
    await db?.drop();
  });

  const ids = (rows: { id: string }[]) => rows.map((r) => r.id);

  it('projects the full profile, state, version and last change of each agent', async () => {
    const row = await getAgent(runtime.db, 'acme', 'crm-bot');
    expect(row).toMatchObject({
      id: 'crm-bot',
      tenant_id: 'acme',
      state: 'suspended',
      version: 3,
      owner_team: 'sales',
      business_process: 'lead-gen',
      autonomy_level: 3,
      tools: [
        { tool: 'crm', actions: ['read', 'write'] },
        { tool: 'email', actions: ['send'] },
      ],
      memory: [{ store: 'leads', memoryClass: 'durable', read: true, write: true }],
      environments: ['prod'],
      shutdown_path: 'disable the connector',
      updated_by: 'alice',
      update_reason: 'test',
    });
    expect(await getAgent(runtime.db, 'acme', 'payroll-bot')).toMatchObject({
      state: 'active',
      version: 2,
      labels: { cost: 'hr' },
    });
  });

  it('ignores an event that lost a race (the retire at an already used version)', async () => {
    expect((await getAgent(runtime.db, 'acme', 'crm-bot'))?.state).toBe('suspended');
  });

  it('lists a tenant’s agents and filters by owner team, tool, business process, autonomy level and state', async () => {
    const db = runtime.db;
    expect(ids(await listAgents(db, 'acme'))).toEqual(['crm-bot', 'draft-bot', 'payroll-bot']);
    expect(ids(await listAgents(db, 'acme', { ownerTeam: 'payroll' }))).toEqual(['draft-bot', 'payroll-bot']);
    expect(ids(await listAgents(db, 'acme', { tool: 'email' }))).toEqual(['crm-bot', 'draft-bot']);
    expect(ids(await listAgents(db, 'acme', { tool: 'payroll' }))).toEqual(['payroll-bot']);
    expect(ids(await listAgents(db, 'acme', { businessProcess: 'lead-gen' }))).toEqual(['crm-bot']);
    expect(ids(await listAgents(db, 'acme', { autonomyLevel: 0 }))).toEqual(['draft-bot']);
    expect(ids(await listAgents(db, 'acme', { state: 'active' }))).toEqual(['payroll-bot']);
    expect(ids(await listAgents(db, 'acme', { ownerTeam: 'payroll', state: 'draft' }))).toEqual(['draft-bot']);
    expect(ids(await listAgents(db, 'acme', { tool: 'nothing' }))).toEqual([]);
  });

  it('keeps tenants apart in every query', async () => {
    const db = runtime.db;
    expect(ids(await listAgents(db, 'globex'))).toEqual(['payroll-x']);
    expect(ids(await listAgents(db, 'globex', { tool: 'payroll' }))).toEqual(['payroll-x']);
    expect(await getAgent(db, 'globex', 'payroll-bot')).toBeUndefined();
    expect(await getAgent(db, 'acme', 'payroll-x')).toBeUndefined();
    expect(ids((await inventory(db, 'globex')).agents)).toEqual(['payroll-x']);
    expect(ids(await listAgents(db, 'initech'))).toEqual([]);
  });

  it('takes the inventory: running agents, owners, tools, what each may spend, how to shut each down', async () => {
    await port.publish(
      signedAsOwners(prefix, [
        toRecord(
          prefix,
          'test',
          `budget-${now++}`,
          now,
          create(BudgetDefinedSchema, {
            budgetId: 'b1',
            tenantId: 'acme',
            scope: BudgetScope.AGENT,
            subject: 'payroll-bot',
            limits: [
              create(LimitSchema, { dimension: Dimension.SPEND, limit: 250 }),
              create(LimitSchema, { dimension: Dimension.TOOL_CALLS, limit: 1000 }),
            ],
          }),
          { topic: Topic.budgetEvents, key: 'acme', tenantId: 'acme', agentId: '', runId: '' },
        ),
      ]),
    );
    await eventually(async () => (await runtime.projection('agent-budgets').lag()) === 0);
    const taken = await inventory(runtime.db, 'acme');
    expect(taken).toEqual({
      tenantId: 'acme',
      running: 1,
      agents: [
        {
          id: 'payroll-bot',
          version: 2,
          mission: 'help',
          owner_team: 'payroll',
          owner_contact: 'payroll@example.com',
          business_process: 'payroll',
          model: '',
          autonomy_level: 2,
          tools: [{ tool: 'payroll', actions: ['read'], contractVersion: '', definitionDigest: '' }],
          environments: ['prod'],
          shutdown_path: 'disable the connector',
          rollback_path: '',
          budget_profile: '',
          budget_limits: { spend: 250, toolCalls: 1000 },
        },
      ],
    });
  });

  it('follows later events, and rebuilds the same rows from Kafka', async () => {
    const next = history('draft-bot', 'acme', profile({ autonomyLevel: 0, tools: [] }), ['ActivateAgent']).at(-1)!;
    await publish([next]);
    await eventually(async () => (await getAgent(runtime.db, 'acme', 'draft-bot'))?.state === 'active');
    const before = await listAgents(runtime.db, 'acme');
    await runtime.projection('agents').rebuild();
    await caughtUp();
    expect(await listAgents(runtime.db, 'acme')).toEqual(before);
  });
});
