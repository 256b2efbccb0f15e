import { eventually } from '@warden/platform/testing';
import { recordedRun } from './testing/recorded-run';
import { Identity, TraceHarness } from './testing/trace.harness';

/** Replay without the orchestrator: from the Kafka events alone, on a recorded run. */
describe('replay and verification of a recorded run (real Kafka and Postgres)', () => {
  let trace: TraceHarness;
  const auditor: Identity = { subject: 'ann', roles: 'auditor', tenant: 'acme' };
  const run = { tenantId: 'acme', agentId: 'refund-bot', runId: 'run-refunds' };
  const { events, tamperedRequestId } = recordedRun(run, Date.UTC(2025, 6, 1));

  beforeAll(async () => {
    trace = await TraceHarness.start('trace-replay');
    await trace.publish(events);
    await trace.caughtUp();
  });
  afterAll(async () => {
    await trace.stop();
  });

  it('rebuilds the run timeline from the events alone, equal to the projection', async () => {
    const replayed = await trace.call<{
      source: string;
      timeline: { id: string; verdict: string; outcomeStatus: string | null; reason: string }[];
      runs: { requests: number; allowed: number; denied: number }[];
      events: { type: string; requestId: string }[];
    }>('GET', '/runs/run-refunds/replay', auditor);
    expect(replayed.status).toBe(200);
    const projected = (
      await trace.call<{ timeline: { id: string; verdict: string; outcomeStatus: string | null; reason: string }[] }>(
        'GET',
        '/runs/run-refunds',
        auditor,
      )
    ).body.timeline;
    const view = (rows: { id: string; verdict: string; outcomeStatus: string | null; reason: string }[]) =>
      rows.map((r) => [r.id, r.verdict, r.outcomeStatus, r.reason]);
    expect(view(replayed.body.timeline)).toEqual(view(projected));
    expect(view(replayed.body.timeline)).toEqual([
      ['req-1', 'allow', 'completed', 'all admission checks passed'],
      ['req-2', 'deny', null, 'tool payments is not allowed for agent refund-bot'],
      [
        'req-3',
        'deny',
        null,
        'kill switch ks-run-refunds (tenantId=acme,agentId=refund-bot, stop_run) engaged by sam: runaway refunds',
      ],
      ['req-4', 'allow', 'completed', 'all admission checks passed'],
    ]);
    expect(replayed.body).toMatchObject({ source: 'kafka', runs: [{ requests: 4, allowed: 2, denied: 2 }] });
    // Told by the topics of record: the request as the budget stage accepted it, its outcome as it settled it.
    expect(replayed.body.events.filter((e) => e.requestId === 'req-1').map((e) => e.type)).toEqual([
      'warden.budget.v1.BudgetReserved',
      'warden.gate.v1.GateDecided',
      'warden.budget.v1.BudgetSettled',
    ]);
    expect(replayed.body.events.filter((e) => e.requestId === 'req-2').map((e) => e.type)).toEqual([
      'warden.budget.v1.BudgetReserved',
      'warden.gate.v1.GateDecided',
      'warden.budget.v1.BudgetReleased',
    ]);
    expect((await trace.call('GET', '/runs/run-refunds/replay', { ...auditor, tenant: 'globex' })).status).toBe(404);
  });

  it('re-evaluates every recorded decision from the state it recorded and reports the one that differs', async () => {
    const report = await eventually(async () => {
      const r = await trace.call<Record<string, unknown>>('GET', '/runs/run-refunds/verify', auditor);
      return r.status === 200 ? r.body : undefined;
    });
    expect(report).toMatchObject({ mode: 'recorded', checked: 4, same: 3, different: 1, notReplayable: 0 });
    expect(report.differences).toEqual([
      expect.objectContaining({
        requestId: tamperedRequestId,
        recorded: { verdict: 'allow', reason: 'all admission checks passed', bundleVersion: 'builtin-2' },
        replayed: expect.objectContaining({
          verdict: 'deny',
          reason:
            'kill switch ks-run-refunds (tenantId=acme,agentId=refund-bot, stop_run) engaged by sam: runaway refunds',
        }),
        // The tenant's gate events before req-4's decision, never exact: the budget stage's answers
        // to req-1 to req-4, the decisions of req-1 to req-3, req-1's settlement, req-2's and req-3's releases.
        state: { 'registry.events': 3, 'killswitch.events': 1, 'policy.events': 0, activity: 10, exact: false },
      }),
    ]);
  });

  it('what-if with a chosen bundle version, and 400 for a version with no evaluator', async () => {
    expect((await trace.call('GET', '/runs/run-refunds/verify?bundle=builtin-2', auditor)).body).toMatchObject({
      mode: 'what_if',
      bundleVersion: 'builtin-2',
      checked: 4,
      different: 1,
    });
    expect((await trace.call('GET', '/runs/run-refunds/verify?bundle=v9', auditor)).body).toMatchObject({
      status: 400,
      code: 'unknown_bundle',
      field: 'bundle',
    });
  });

  it('exports the incident bundle of the run, with the replay on request', async () => {
    await eventually(
      async () => (await trace.sql<{ n: number }>(`SELECT count(*)::int AS n FROM trace.audit`))[0].n === 4,
    );
    const bundle = await trace.call<Record<string, unknown>>('GET', '/runs/run-refunds/export?replay=true', auditor);
    expect(bundle.body).toMatchObject({
      format: 'warden.trace.incident/v1',
      tenantId: 'acme',
      runId: 'run-refunds',
      runs: [{ agentId: 'refund-bot', requests: 4 }],
      holds: [{ heldBy: 'kill_switch', ref: 'ks-run-refunds' }],
      audit: { chain: { ok: true, records: 4 } },
      replay: { verification: { different: 1 } },
    });
    const changes = (bundle.body.replay as { changes: { type: string; data: Record<string, unknown> }[] }).changes;
    expect(changes.map((c) => c.type)).toEqual([
      'warden.registry.v1.ToolContractPublished',
      'warden.registry.v1.AgentRegistered',
      'warden.registry.v1.AgentActivated',
      'warden.killswitch.v1.KillSwitchEngaged',
    ]);
    expect(changes[3].data).toMatchObject({ switchId: 'ks-run-refunds', reason: 'runaway refunds' });
    expect((bundle.body.requests as { id: string }[]).map((r) => r.id)).toEqual(['req-1', 'req-2', 'req-3', 'req-4']);
    expect((bundle.body.audit as { records: unknown[] }).records).toHaveLength(4);
  });
});
