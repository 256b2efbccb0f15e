import { AgentRegistered, Topic } from '@warden/contracts';
import { callerHeaders, DEV_KEY_ENCRYPTION_KEY, KafkaPort } from '@warden/platform';
import {
  connectedPort,
  eventually,
  freshDatabase,
  InProcessService,
  startInProcess,
  TopicRecorder,
  uniquePrefix,
} from '@warden/platform/testing';
import { readRegistryConfig } from './config';
import { registryService } from './service';

interface Who {
  readonly subject?: string;
  readonly roles?: string;
  readonly tenant?: string;
}

describe('registry service (HTTP, real Kafka and Postgres)', () => {
  const prefix = uniquePrefix('registry');
  let db: { url: string; drop(): Promise<void> };
  const services: InProcessService[] = [];
  const urls: string[] = [];
  let port: KafkaPort;
  let recorder: TopicRecorder;

  const admin: Who = { subject: 'alice', roles: 'admin', tenant: 'acme' };
  const owner: Who = { subject: 'olga', roles: 'owner', tenant: 'acme' };
  const sre: Who = { subject: 'sam', roles: 'sre', tenant: 'acme' };
  const globex: Who = { subject: 'gina', roles: 'admin', tenant: 'globex' };

  const start = async (instance: string) => {
    const service = await startInProcess(readRegistryConfig, registryService, {
      DATABASE_URL: db.url,
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_INSTANCE_ID: instance,
      WARDEN_KEY_ENCRYPTION_KEY: DEV_KEY_ENCRYPTION_KEY,
    });
    services.push(service);
    urls.push(service.url);
  };

  const call = async (who: Who, method: string, path: string, body?: unknown, instance = 0) => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...(who.subject
        ? await callerHeaders({ subject: who.subject, roles: who.roles ?? '', tenant: who.tenant ?? '' })
        : {}),
    };
    const res = await fetch(`${urls[instance]}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: json };
  };

  const profile = {
    mission: 'pay the right people',
    owner: { team: 'payroll', contact: 'payroll@example.com' },
    businessProcess: 'payroll',
    model: 'gpt-5',
    tools: [{ tool: 'payroll', actions: ['read', 'draft'] }],
    memory: [{ store: 'notes', memoryClass: 'session', write: true }],
    environments: ['prod'],
    autonomyLevel: 2,
    shutdownPath: 'disable the payroll connector',
    budgetProfile: 'standard',
  };

  beforeAll(async () => {
    db = await freshDatabase('registry');
    await start('registry-a');
    await start('registry-b');
    port = await connectedPort('registry-test');
    recorder = await TopicRecorder.start(port, prefix, [Topic.registryEvents]);
  });
  afterAll(async () => {
    for (const service of services) await service.close();
    await recorder?.stop();
    await port?.close();
    await db?.drop();
  });

  it('registers a draft, activates it, and serves it from the read model and the inventory', async () => {
    const registered = await call(owner, 'POST', '/agents', { agentId: 'payroll-bot', ...profile, reason: 'new' });
    expect(registered).toMatchObject({
      status: 201,
      body: {
        agentId: 'payroll-bot',
        tenantId: 'acme',
        state: 'draft',
        version: 1,
        registered: { by: 'olga', reason: 'new' },
        profile: {
          tools: [{ tool: 'payroll', actions: ['read', 'draft'] }],
          memory: [{ store: 'notes', memoryClass: 'session', read: true, write: true }],
          autonomyLevel: 2,
        },
      },
    });
    const activated = await call(owner, 'POST', '/agents/payroll-bot/activate', { expectedVersion: 1 });
    expect(activated).toMatchObject({ status: 200, body: { state: 'active', version: 2, lastChange: { by: 'olga' } } });

    const row = await eventually(async () => {
      const r = await call(sre, 'GET', '/agents/payroll-bot', undefined, 1);
      return r.status === 200 && r.body.version === 2 && r.body;
    });
    expect(row).toMatchObject({ id: 'payroll-bot', tenantId: 'acme', state: 'active', ownerTeam: 'payroll' });
    const taken = await call(sre, 'GET', '/inventory');
    expect(taken.body).toMatchObject({
      tenantId: 'acme',
      running: 1,
      agents: [
        {
          id: 'payroll-bot',
          ownerTeam: 'payroll',
          tools: [{ tool: 'payroll', actions: ['read', 'draft'] }],
          shutdownPath: 'disable the payroll connector',
          budgetProfile: 'standard',
        },
      ],
    });
  });

  it('puts the tenant and the full profile on the event, keyed by agent id', async () => {
    const event = await eventually(() =>
      recorder.events(Topic.registryEvents).find((e) => e.type === 'warden.registry.v1.AgentRegistered'),
    );
    const data = event.data as AgentRegistered;
    expect(event).toMatchObject({ key: 'payroll-bot', tenantId: 'acme', agentId: 'payroll-bot' });
    expect(data).toMatchObject({ tenantId: 'acme', version: 1, change: { by: 'olga', reason: 'new' } });
    expect(data.profile?.tools.map((t) => t.actions)).toEqual([['read', 'draft']]);
  });

  it('gives an id when none is sent', async () => {
    const r = await call(admin, 'POST', '/agents', profile);
    expect(r.status).toBe(201);
    expect(r.body.agentId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers a stale version with 409 problem+json naming expectedVersion, and changes nothing', async () => {
    const stale = await call(owner, 'PUT', '/agents/payroll-bot/profile', {
      expectedVersion: 1,
      ...profile,
      mission: 'something else',
    });
    expect(stale).toMatchObject({ status: 409, body: { code: 'stale_version', field: 'expectedVersion' } });
    expect(stale.type).toContain('application/problem+json');
    const again = await call(owner, 'POST', '/agents/payroll-bot/activate', { expectedVersion: 2 });
    expect(again).toMatchObject({ status: 409, body: { code: 'invalid_transition' } });
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    ['no mission', { mission: undefined }, 'mission_required', 'mission'],
    ['no owner team', { owner: { contact: 'x' } }, 'owner_required', 'owner.team'],
    ['an owner that is not an object', { owner: 'payroll' }, 'invalid_body', 'owner'],
    ['autonomy 7', { autonomyLevel: 7 }, 'invalid_autonomy_level', 'autonomyLevel'],
    ['autonomy missing', { autonomyLevel: undefined }, 'missing_field', 'autonomyLevel'],
    ['a tool without actions', { tools: [{ tool: 'crm' }] }, 'missing_actions', 'tools[0].actions'],
    [
      'a bad memory class',
      { memory: [{ store: 's', memoryClass: 'x' }] },
      'invalid_memory_class',
      'memory[0].memoryClass',
    ],
    ['no environments', { environments: [] }, 'environments_required', 'environments'],
    ['a bad agent id', { agentId: 'a b' }, 'invalid_agent_id', 'agentId'],
  ])('refuses a registration with %s: 400 naming the field', async (_what, over, code, field) => {
    const r = await call(owner, 'POST', '/agents', { ...profile, ...over });
    expect(r).toMatchObject({ status: 400, body: { code, field } });
    expect(r.type).toContain('application/problem+json');
  });

  it('needs the caller tenant and a bearer token', async () => {
    expect((await call({ ...owner, tenant: undefined }, 'POST', '/agents', profile)).body).toMatchObject({
      code: 'missing_tenant',
      field: 'tenant',
    });
    expect((await call({ ...owner, subject: undefined }, 'GET', '/agents')).body).toMatchObject({
      status: 401,
      code: 'missing_token',
    });
  });

  it('enforces roles: register/update/activate by admin or owner, suspend also by sre, retire by admin only', async () => {
    expect((await call(sre, 'POST', '/agents', profile)).status).toBe(403);
    expect((await call(owner, 'POST', '/agents/payroll-bot/retire', { expectedVersion: 2, reason: 'r' })).status).toBe(
      403,
    );
    const noReason = await call(sre, 'POST', '/agents/payroll-bot/suspend', { expectedVersion: 2 });
    expect(noReason).toMatchObject({ status: 400, body: { code: 'reason_required', field: 'reason' } });
    const suspended = await call(sre, 'POST', '/agents/payroll-bot/suspend', { expectedVersion: 2, reason: 'odd' });
    expect(suspended).toMatchObject({
      status: 200,
      body: { state: 'suspended', version: 3, lastChange: { by: 'sam' } },
    });
    const updated = await call(owner, 'PUT', '/agents/payroll-bot/profile', {
      expectedVersion: 3,
      ...profile,
      tools: [{ tool: 'payroll', actions: ['read'] }],
      reason: 'narrower',
    });
    expect(updated).toMatchObject({
      status: 200,
      body: { state: 'suspended', version: 4, profile: { tools: [{ tool: 'payroll', actions: ['read'] }] } },
    });
    expect((await call(owner, 'POST', '/agents/payroll-bot/activate', { expectedVersion: 4 })).status).toBe(200);
  });

  it('hides one tenant’s agents from another, even from its admin', async () => {
    expect((await call(globex, 'GET', '/agents/payroll-bot')).status).toBe(404);
    const activate = await call(globex, 'POST', '/agents/payroll-bot/suspend', { expectedVersion: 5, reason: 'r' });
    expect(activate).toMatchObject({ status: 404, body: { code: 'agent_not_found' } });
    expect((await call(globex, 'GET', '/agents')).body).toEqual([]);
    expect((await call(globex, 'GET', '/inventory')).body).toMatchObject({ running: 0, agents: [] });
  });

  it('filters the list by query parameters and refuses bad ones, naming them', async () => {
    await call(owner, 'POST', '/agents', {
      ...profile,
      agentId: 'crm-bot',
      owner: { team: 'sales' },
      businessProcess: 'lead-gen',
      tools: [{ tool: 'crm', actions: ['read'] }],
      autonomyLevel: 3,
    });
    const list = async (query: string) => {
      const r = await call(sre, 'GET', `/agents?${query}`);
      return (r.body as unknown as { id: string }[]).map((a) => a.id).sort();
    };
    // Wait for the projection to hold both agents' latest events (payroll-bot's came from earlier tests).
    await eventually(async () => (await list('tool=crm')).length === 1);
    await eventually(async () => (await list('businessProcess=payroll&state=active')).length === 1);
    expect(await list('tool=crm')).toEqual(['crm-bot']);
    expect(await list('ownerTeam=sales')).toEqual(['crm-bot']);
    expect(await list('businessProcess=payroll&state=active')).toEqual(['payroll-bot']);
    expect(await list('autonomyLevel=3')).toEqual(['crm-bot']);
    expect(await list('state=draft&tool=payroll')).not.toContain('payroll-bot');
    expect((await call(sre, 'GET', '/agents?state=running')).body).toMatchObject({ status: 400, field: 'state' });
    expect((await call(sre, 'GET', '/agents?autonomyLevel=9')).body).toMatchObject({
      status: 400,
      field: 'autonomyLevel',
    });
  });

  it('two instances changing the same version at once: exactly one wins, the other gets 409', async () => {
    const current = await call(owner, 'POST', '/agents/crm-bot/activate', { expectedVersion: 1 });
    expect(current.body).toMatchObject({ version: 2 });
    await eventually(async () => (await call(sre, 'GET', '/agents/crm-bot', undefined, 1)).body.version === 2);
    const [a, b] = await Promise.all([
      call(sre, 'POST', '/agents/crm-bot/suspend', { expectedVersion: 2, reason: 'sre' }, 0),
      call(admin, 'POST', '/agents/crm-bot/retire', { expectedVersion: 2, reason: 'admin' }, 1),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const loser = a.status === 409 ? a : b;
    expect(['stale_version', 'concurrent_modification']).toContain(loser.body.code);
    const winner = a.status === 200 ? a : b;
    const row = await eventually(async () => {
      const r = await call(sre, 'GET', '/agents/crm-bot');
      return r.body.version === 3 && r.body;
    });
    expect(row.state).toBe(winner.body.state);
  });
});
