import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '@warden/platform/testing';
import { publishToolContracts, ServiceName, Stack } from '@warden/local-stack';
import { call, Identity, payrollAgent, Reply } from './http';
import { startTestStack, TestStack } from './stack';

/**
 * One meaning of each role in every service (issue 18, item 11; ADR 0111), across the six
 * services as separate processes: for every endpoint that acts on a tenant, a caller of the
 * tenant, another tenant's admin (the issue's `roles: [admin], tenant: acme`) and a platform-admin.
 * A tenant role never reaches another tenant; platform-admin is needed for what names another
 * tenant or every tenant, and is no tenant admin.
 */
jest.setTimeout(240_000);

type Row = Record<string, unknown>;
const ids = (reply: Reply) => (reply.body as unknown as Row[]).map((r) => r.id ?? r.switchId);
/** A set-up call that must succeed; its problem, if any, is the failure message. */
function made(reply: Reply, status: number): void {
  if (reply.status !== status)
    throw new Error(`expected ${status}, got ${reply.status}: ${JSON.stringify(reply.body)}`);
}
/** Reads come from projections: wait until the owner sees what it made, then check the others. */
const seen = (what: string, check: () => Promise<boolean>) =>
  eventually(async () => (await check()) || undefined, 30_000, what);

describe('roles and tenants, on every service', () => {
  const demo = (roles: string[]): Identity => ({ subject: 'dora', roles, tenant: 'demo' });
  const demoAdmin = demo(['admin']);
  const demoSre = demo(['sre']);
  const demoAuditor = demo(['auditor']);
  const eve: Identity = { subject: 'eve', roles: ['admin'], tenant: 'acme' };
  const eveAuditor: Identity = { ...eve, roles: ['auditor'] };
  const platform: Identity = { subject: 'pat', roles: ['platform-admin'], tenant: '' };
  const platformInDemo: Identity = { ...platform, tenant: 'demo' };
  let running: TestStack;
  let stack: Stack;
  let switchId: string;

  const on =
    (service: ServiceName) =>
    (method: 'GET' | 'POST' | 'PUT', path: string, who: Identity, body?: unknown): Promise<Reply> =>
      call(stack.urls[service], method, path, who, body);
  const registry = on('registry');
  const policy = on('policy');
  const budget = on('budget');
  const approval = on('approval');
  const trace = on('trace');
  const killswitch = on('killswitch');
  const engage = (who: Identity, scope: Row) =>
    killswitch('POST', '/killswitches', who, { scope, reason: 'tenancy e2e' });

  beforeAll(async () => {
    running = await startTestStack('e2e-tenancy');
    stack = running.stack;
    // Tenant demo's resources, made by demo's own roles.
    const { payroll } = await publishToolContracts(stack.urls.registry, demoAdmin, {
      payroll: { description: 'the payroll system', ownerTeam: 'payroll', actions: [['read', 'low', false]] },
    });
    const agent = payrollAgent('demo-bot', [{ tool: 'payroll', actions: ['read'], ...payroll }]);
    const registered = await registry('POST', '/agents', demoAdmin, agent);
    made(registered, 201);
    const bundle = JSON.parse(
      readFileSync(join(__dirname, '..', '..', 'deploy', 'policies', 'default.bundle.json'), 'utf8'),
    );
    made(await policy('POST', '/bundles', demoAdmin, bundle), 201);
    made(
      await budget('PUT', '/budgets/demo-daily', demoAdmin, {
        scope: 'tenant',
        limits: [{ dimension: 'tokens', window: 'calendar_day', limit: 1000 }],
      }),
      200,
    );
    const standing = await approval('POST', '/standing-approvals', demoAdmin, {
      standingId: 'demo-standing',
      tool: 'payroll',
      maxRiskClass: 'low',
      expiresAtMs: Date.now() + 3_600_000,
      reason: 'tenancy e2e',
    });
    made(standing, 201);
    made(
      await trace('POST', '/holds', demoAuditor, {
        holdId: 'demo-hold',
        runId: 'run-1',
        kind: 'legal',
        reason: 'e2e',
      }),
      201,
    );
    const engaged = await engage(demoSre, { tenantId: 'demo', agentId: 'demo-bot' });
    made(engaged, 201);
    switchId = engaged.body.switchId as string;
  });

  afterAll(async () => {
    await running?.stop();
  });

  it("kill switch: another tenant's admin neither sees nor engages nor releases demo's switches", async () => {
    await seen("demo's switch", async () =>
      ids(await killswitch('GET', '/killswitches?active=true', demoSre)).includes(switchId),
    );
    expect(ids(await killswitch('GET', '/killswitches', eve))).not.toContain(switchId);
    expect((await killswitch('GET', '/killswitches?tenantId=demo', eve)).body).toMatchObject({
      status: 403,
      code: 'platform_admin_required',
    });
    expect(await killswitch('GET', `/killswitches/${switchId}`, eve)).toMatchObject({ status: 404 });
    expect((await engage(eve, { tenantId: 'demo', agentId: 'demo-bot' })).body).toMatchObject({
      status: 403,
      code: 'platform_admin_required',
    });
    expect((await engage(eve, {})).body).toMatchObject({ status: 403, code: 'platform_admin_required' });
    expect(await killswitch('POST', `/killswitches/${switchId}/release`, eve, { reason: 'mine' })).toMatchObject({
      status: 403,
    });
    const revocations = (await killswitch('GET', '/revocations', eve)).body.revocations as Row[];
    expect(revocations.map((r) => r.switchId)).not.toContain(switchId);
    // Its own tenant it may stop.
    const own = await engage(eve, { tenantId: 'acme' });
    expect(own.status).toBe(201);
    expect(
      await killswitch('POST', `/killswitches/${own.body.switchId}/release`, eve, { reason: 'e2e' }),
    ).toMatchObject({ status: 200 });
  });

  it('kill switch: the tenant sees its own; platform-admin lists, engages and releases across tenants and globally', async () => {
    expect(ids(await killswitch('GET', '/killswitches?tenantId=demo', platform))).toContain(switchId);
    expect(ids(await killswitch('GET', '/killswitches', platform))).toContain(switchId);
    expect((await killswitch('GET', `/killswitches/${switchId}`, platform)).body).toMatchObject({
      id: switchId,
      tenantId: 'demo',
      agentId: 'demo-bot',
    });
    const global = await engage(platform, {});
    expect(global.status).toBe(201);
    await seen('the global switch, by acme', async () =>
      ids(await killswitch('GET', '/killswitches?active=true', eve)).includes(global.body.switchId),
    );
    expect(
      await killswitch('POST', `/killswitches/${global.body.switchId}/release`, platform, { reason: 'e2e' }),
    ).toMatchObject({ status: 200 });
    expect((await killswitch('POST', `/killswitches/${switchId}/release`, platform, { reason: 'e2e' })).status).toBe(
      200,
    );
  });

  it("registry: another tenant's admin finds none of demo's agents, tools or credentials", async () => {
    await seen("demo's agent", async () => ids(await registry('GET', '/agents', demoAdmin)).includes('demo-bot'));
    expect(ids(await registry('GET', '/agents', eve))).toEqual([]);
    expect(await registry('GET', '/agents/demo-bot', eve)).toMatchObject({ status: 404 });
    expect((await registry('POST', '/agents/demo-bot/suspend', eve, { expectedVersion: 1, reason: 'x' })).status).toBe(
      404,
    );
    expect((await registry('GET', '/tools', eve)).body).toEqual([]);
    expect((await registry('GET', '/agents/demo-bot/credentials', eve)).body).toEqual([]);
    expect((await registry('GET', '/inventory', eve)).body).toMatchObject({ tenantId: 'acme', agents: [] });
  });

  it('registry: platform-admin reads inside the tenant its token names, and is no tenant admin', async () => {
    expect((await registry('GET', '/agents', platform)).body).toMatchObject({ status: 400, code: 'missing_tenant' });
    expect(ids(await registry('GET', '/agents', platformInDemo))).toEqual(['demo-bot']);
    expect(
      (await registry('POST', '/agents/demo-bot/suspend', platformInDemo, { expectedVersion: 1, reason: 'x' })).body,
    ).toMatchObject({
      status: 403,
      code: 'role_required',
    });
  });

  it("policy: demo's bundle is demo's alone; platform-admin does not publish a tenant's bundle", async () => {
    await seen(
      "demo's bundle",
      async () => ((await policy('GET', '/bundles', demoAdmin)).body.versions as Row[]).length > 0,
    );
    const own = (await policy('GET', '/bundles', demoAdmin)).body;
    expect(own).toMatchObject({ tenantId: 'demo', versions: [expect.objectContaining({ tenantId: 'demo' })] });
    const version = (own.versions as Row[])[0].version as string;
    expect((await policy('GET', '/bundles', eve)).body).toMatchObject({ tenantId: 'acme', versions: [] });
    expect(await policy('GET', `/bundles/${version}`, eve)).toMatchObject({ status: 404 });
    expect(await policy('POST', `/bundles/${version}/activate`, eve, {})).toMatchObject({ status: 404 });
    expect(
      (await policy('POST', '/bundles/rollback', platformInDemo, { toVersion: version, reason: 'x' })).body,
    ).toMatchObject({
      status: 403,
      code: 'role_required',
    });
  });

  it("budget: demo's budget is invisible to acme; platform-admin reads it inside demo but may not change it", async () => {
    expect(await budget('GET', '/budgets/demo-daily', demoAuditor)).toMatchObject({ status: 200 });
    expect(await budget('GET', '/budgets/demo-daily', eve)).toMatchObject({ status: 404 });
    expect((await budget('GET', '/budgets', eve)).body).toEqual({ tenantId: 'acme', budgets: [] });
    expect(await budget('GET', '/budgets/demo-daily', platformInDemo)).toMatchObject({ status: 200 });
    const changed = await budget('PUT', '/budgets/demo-daily', platformInDemo, {
      scope: 'tenant',
      limits: [{ dimension: 'tokens', window: 'calendar_day', limit: 10 }],
    });
    expect(changed.body).toMatchObject({ status: 403, code: 'role_required' });
  });

  it("approval: demo's standing approvals are invisible to acme, and not acme's to revoke", async () => {
    await seen(
      "demo's standing approval",
      async () => (await approval('GET', '/standing-approvals/demo-standing', demoAdmin)).status === 200,
    );
    expect((await approval('GET', '/standing-approvals/demo-standing', demoAdmin)).body).toMatchObject({
      id: 'demo-standing',
      tenantId: 'demo',
    });
    expect(await approval('GET', '/standing-approvals/demo-standing', eve)).toMatchObject({ status: 404 });
    expect((await approval('GET', '/standing-approvals', eve)).body).toEqual([]);
    const revoked = await approval('POST', '/standing-approvals/demo-standing/revoke', eve, { reason: 'mine' });
    expect(revoked.status).toBe(404);
    expect((await approval('GET', '/standing-approvals', platformInDemo)).body).toMatchObject({
      code: 'role_required',
    });
  });

  it("trace: demo's holds are demo's; operating projections and retention needs platform-admin", async () => {
    const held = (who: Identity) => trace('GET', '/holds', who).then((r) => (r.body.holds as Row[]).map((h) => h.id));
    await seen("demo's hold", async () => (await held(demoAuditor)).includes('demo-hold'));
    expect(await held(eveAuditor)).toEqual([]);
    expect(await trace('POST', '/holds/demo-hold/release', eveAuditor, { reason: 'mine' })).toMatchObject({
      status: 404,
    });
    for (const who of [demoAdmin, demoSre, eve])
      expect((await trace('GET', '/admin/projections', who)).body).toMatchObject({
        status: 403,
        code: 'role_required',
      });
    expect(await trace('GET', '/admin/projections', platform)).toMatchObject({ status: 200 });
  });
});
