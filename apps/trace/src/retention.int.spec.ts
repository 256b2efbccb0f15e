import {
  create,
  Effect,
  KillSwitchEngagedSchema,
  KillSwitchReleasedSchema,
  RunHaltedSchema,
  ScopeSchema,
  Topic,
} from '@warden/contracts';
import { eventually } from '@warden/platform/testing';
import { gateChain, GateEvent, Identity, TraceHarness } from './testing/trace.harness';

/** Retention with legal hold: old runs are purged from the projections unless held. */
describe('retention and holds (real Kafka and Postgres)', () => {
  let trace: TraceHarness;
  const auditor: Identity = { subject: 'ann', roles: 'auditor', tenant: 'acme' };
  const sre: Identity = { subject: 'sam', roles: 'sre', tenant: 'acme' };
  const platformAdmin: Identity = { subject: 'pat', roles: 'platform-admin', tenant: '' };
  const old = Date.UTC(2020, 0, 10);
  const recent = Date.now() - 3_600_000;
  const run = (runId: string, agentId = 'bot') => ({ tenantId: 'acme', agentId, runId });
  const none = { tenantId: '', agentId: '', runId: '' };
  const runIds = async () =>
    (await trace.call<{ runId: string }[]>('GET', '/runs', auditor)).body.map((r) => r.runId).sort();

  beforeAll(async () => {
    trace = await TraceHarness.start('trace-retention');
    const switches: GateEvent[] = [
      {
        topic: Topic.killswitchEvents,
        key: 'ks-agent',
        run: none,
        time: old,
        data: create(KillSwitchEngagedSchema, {
          switchId: 'ks-agent',
          scope: create(ScopeSchema, { tenantId: 'acme', agentId: 'killed-bot' }),
          reason: 'leaking data',
          engagedBy: 'sam',
          engagedAtMs: old - 1000,
        }),
      },
      {
        topic: Topic.killswitchEvents,
        key: 'ks-agent',
        run: none,
        time: old + 60_000,
        data: create(KillSwitchReleasedSchema, { switchId: 'ks-agent', releasedBy: 'sam', releasedAtMs: old + 60_000 }),
      },
      {
        topic: Topic.killswitchEvents,
        key: 'ks-tool',
        run: none,
        time: old,
        data: create(KillSwitchEngagedSchema, {
          switchId: 'ks-tool',
          scope: create(ScopeSchema, { tool: 'payments' }),
          reason: 'fraud',
          engagedBy: 'sam',
          engagedAtMs: old,
        }),
      },
      {
        topic: Topic.killswitchEvents,
        key: 'ks-stop-only',
        run: none,
        time: old,
        data: create(KillSwitchEngagedSchema, {
          switchId: 'ks-stop-only',
          scope: create(ScopeSchema, { tenantId: 'acme', agentId: 'stopped-bot' }),
          reason: 'stop, keep no traces',
          engagedAtMs: old - 1000,
          effects: [Effect.STOP_RUN],
        }),
      },
      {
        topic: Topic.killswitchEvents,
        key: 'run-killed',
        run: run('run-killed', 'killed-bot'),
        time: old + 10,
        data: create(RunHaltedSchema, {
          runId: 'run-killed',
          tenantId: 'acme',
          agentId: 'killed-bot',
          switchId: 'ks-agent',
          haltedAtMs: old + 10,
        }),
      },
    ];
    await trace.publish([
      ...switches,
      ...gateChain(run('run-stopped', 'stopped-bot'), 'req-stopped', old, 'deny'),
      ...gateChain(run('run-old'), 'req-old', old, 'allow'),
      ...gateChain(run('run-held'), 'req-held', old, 'deny'),
      ...gateChain(run('run-killed', 'killed-bot'), 'req-killed', old, 'deny'),
      ...gateChain(run('run-after-release', 'killed-bot'), 'req-after', old + 3_600_000, 'allow'),
      ...gateChain(run('run-payments'), 'req-pay', old, 'deny', { tool: 'payments' }),
      ...gateChain(run('run-new'), 'req-new', recent, 'allow'),
    ]);
    await trace.caughtUp();
  });
  afterAll(async () => {
    await trace.stop();
  });

  it('places holds for auditors and admins only, with a run and a reason, recorded in Kafka', async () => {
    expect((await trace.call('POST', '/holds', sre, { runId: 'run-held', reason: 'INC-1' })).body).toMatchObject({
      status: 403,
      code: 'role_required',
    });
    expect((await trace.call('POST', '/holds', auditor, { runId: 'run-held' })).body).toMatchObject({
      status: 400,
      field: 'reason',
    });
    expect(
      (await trace.call('POST', '/holds', auditor, { runId: 'run-held', reason: 'x', kind: 'odd' })).body,
    ).toMatchObject({
      status: 400,
      field: 'kind',
    });
    const placed = await trace.call('POST', '/holds', auditor, {
      holdId: 'hold-1',
      runId: 'run-held',
      kind: 'incident',
      reason: 'INC-1 refunds',
    });
    expect(placed).toMatchObject({ status: 201, body: { holdId: 'hold-1', status: 'placed' } });
    expect(
      (await trace.call('POST', '/holds', auditor, { holdId: 'hold-1', runId: 'run-held', reason: 'again' })).status,
    ).toBe(409);
  });

  it('lists held runs: explicit holds and runs under a kill switch while they were active', async () => {
    const held = await eventually(async () => {
      const r = await trace.call<{ heldRuns: { runId: string; heldBy: string; ref: string }[] }>(
        'GET',
        '/holds',
        auditor,
      );
      return r.body.heldRuns.some((h) => h.runId === 'run-held') ? r.body : undefined;
    });
    expect(held.heldRuns.map((h) => [h.runId, h.heldBy, h.ref])).toEqual(
      [
        ['run-held', 'incident', 'hold-1'],
        ['run-payments', 'kill_switch', 'ks-tool'],
        ['run-killed', 'kill_switch', 'ks-agent'],
      ].sort(
        (a, b) => (a[0] === b[0] ? 0 : 0) || ['bot', 'killed-bot'].indexOf(a[0]) - ['bot', 'killed-bot'].indexOf(b[0]),
      ),
    );
    expect((await trace.call('GET', '/runs/run-killed', auditor)).body).toMatchObject({
      halted: true,
      held: true,
      holds: [{ heldBy: 'kill_switch', ref: 'ks-agent', reason: 'leaking data' }],
    });
    expect((await trace.call('GET', '/runs/run-old', auditor)).body).toMatchObject({ held: false, holds: [] });
    // A switch whose effects do not include preserve_traces holds nothing.
    expect((await trace.call('GET', '/runs/run-stopped', auditor)).body).toMatchObject({ held: false, halted: false });
  });

  it('purges old runs that nothing holds, and keeps held and recent ones', async () => {
    for (const who of [auditor, sre]) {
      expect((await trace.call('POST', '/admin/retention/run', who, { days: 30 })).status).toBe(403);
    }
    const purged = await trace.call('POST', '/admin/retention/run', platformAdmin, { days: 30 });
    expect(purged.body).toMatchObject({ runs: 3, requests: 3 });
    expect(await runIds()).toEqual(['run-held', 'run-killed', 'run-new', 'run-payments']);
    expect((await trace.call('GET', '/requests/req-old', auditor)).status).toBe(404);
    expect((await trace.call('GET', '/requests/req-held', auditor)).status).toBe(200);
  });

  it('purges a run once its hold is released', async () => {
    expect((await trace.call('POST', '/holds/hold-1/release', auditor, {})).body).toMatchObject({
      status: 400,
      field: 'reason',
    });
    expect((await trace.call('POST', '/holds/hold-1/release', auditor, { reason: 'closed' })).body).toMatchObject({
      status: 'released',
    });
    expect((await trace.call('POST', '/holds/nope/release', auditor, { reason: 'closed' })).status).toBe(404);
    await eventually(async () => {
      const r = await trace.call<{ holds: { id: string; releasedAt: string | null }[] }>('GET', '/holds', auditor);
      return r.body.holds.find((h) => h.id === 'hold-1')?.releasedAt ? true : undefined;
    });
    const again = (await trace.call('POST', '/admin/retention/run', platformAdmin, { days: 30 })).body;
    expect(again).toMatchObject({ runs: 1 });
    expect(await runIds()).toEqual(['run-killed', 'run-new', 'run-payments']);
  });
});
