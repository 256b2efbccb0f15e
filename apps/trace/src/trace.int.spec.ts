import { create, GateRequestedSchema, StepCompletedSchema, Topic } from '@warden/contracts';
import { eventually } from '@warden/platform/testing';
import { gateChain, Identity, stageTraceparent, TraceHarness } from './testing/trace.harness';

describe('trace service (HTTP, real Kafka and Postgres)', () => {
  let trace: TraceHarness;
  const auditor: Identity = { subject: 'ann', roles: 'auditor', tenant: 'acme' };
  const sre: Identity = { subject: 'sam', roles: 'sre', tenant: 'acme' };
  const platformAdmin: Identity = { subject: 'pat', roles: 'platform-admin', tenant: '' };
  const run = { tenantId: 'acme', agentId: 'payroll-bot', runId: 'run-http' };
  const t = Date.UTC(2025, 5, 1);
  const agentTraceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  beforeAll(async () => {
    trace = await TraceHarness.start('trace-http');
  });
  afterAll(async () => {
    await trace.stop();
  });

  it('projects a full chain published to its topics into one request row and its run', async () => {
    await trace.publish([
      ...gateChain(run, 'req-approved', t, 'approved', {}, agentTraceparent),
      ...gateChain(run, 'req-deny', t + 100, 'deny'),
    ]);
    const row = await eventually(async () => {
      const r = await trace.call('GET', '/requests/req-approved', auditor);
      // Each topic feeding the row is consumed on its own: wait for every part of the chain.
      const complete =
        r.status === 200 &&
        r.body.outcomeStatus &&
        r.body.reservationStatus === 'settled' &&
        r.body.decisionsSeen === 3 &&
        r.body.approvalStatus === 'granted' &&
        r.body.requestSource === 'budget.reservations';
      return complete ? r.body : undefined;
    });
    expect(row).toMatchObject({
      id: 'req-approved',
      tenantId: 'acme',
      agentId: 'payroll-bot',
      runId: 'run-http',
      stepId: 'step-req-approved',
      idempotencyKey: 'idem-req-approved',
      attempt: 1,
      actionKind: 'tool_call',
      tool: 'tickets',
      action: 'approved',
      requestedAt: new Date(t).toISOString(),
      deadlineAt: new Date(t + 30_000).toISOString(),
      request: { requestId: 'req-approved', actionKind: 'ACTION_KIND_TOOL_CALL', estimatedTokens: 10 },
      requestSource: 'budget.reservations',
      // The budget stage's span, in the agent's trace, from the envelope of the request's kept copy.
      traceparent: stageTraceparent(agentTraceparent, 'budget.reservations@1'),
      reservationId: 'res-req-approved',
      reservation: { reservationId: 'res-req-approved', reservedTokens: 10 },
      reservationStatus: 'settled',
      settlement: { requestId: 'req-approved', actualTokens: 7 },
      decision: { decisionId: 'd-req-approved-5', verdict: 'VERDICT_ALLOW', final: true },
      verdict: 'allow',
      reason: 'allow',
      decidedAt: new Date(t + 5).toISOString(),
      decisionLatencyMs: 5,
      decisionsSeen: 3,
      approval: { opened: { taskId: 'task-req-approved' }, granted: { approvedBy: 'ann' } },
      approvalStatus: 'granted',
      outcome: { requestId: 'req-approved', actualTokens: 7, completedAtMs: t + 6 },
      outcomeStatus: 'completed',
      actualTokens: 7,
      costMicros: 1500,
      updatedAt: new Date(t + 7).toISOString(),
    });

    const summary = await eventually(async () => {
      const r = await trace.call('GET', '/runs/run-http', auditor);
      const complete = r.status === 200 && r.body.denied === 1 && r.body.allowed === 1 && r.body.tokens === 7;
      return complete ? r.body : undefined;
    });
    expect(summary).toMatchObject({
      tenantId: 'acme',
      agentId: 'payroll-bot',
      runId: 'run-http',
      // The first event the summary reads: the pending decision.
      firstSeenAt: new Date(t + 2).toISOString(),
      requests: 2,
      allowed: 1,
      denied: 1,
      pending: 0,
      tokens: 7,
      costMicros: 1500,
      lastVerdict: 'deny',
      lastRequestId: 'req-deny',
      halted: false,
    });
    expect(summary).not.toHaveProperty('request_states');
    expect((summary.timeline as { id: string; verdict: string }[]).map((e) => [e.id, e.verdict])).toEqual([
      ['req-approved', 'allow'],
      ['req-deny', 'deny'],
    ]);
  });

  it('lists runs by agent, verdict and time range', async () => {
    await trace.publish(gateChain({ ...run, runId: 'run-other' }, 'req-other', t + 10_000, 'allow'));
    await eventually(async () => (await trace.call<unknown[]>('GET', '/runs', auditor)).body.length === 2);
    const ids = async (query: string) =>
      (await trace.call<{ runId: string }[]>('GET', `/runs${query}`, auditor)).body.map((r) => r.runId);
    expect(await ids('')).toEqual(['run-other', 'run-http']);
    expect(await ids('?verdict=deny')).toEqual(['run-http']);
    expect(await ids('?agentId=someone-else')).toEqual([]);
    expect(await ids(`?from=${new Date(t + 5_000).toISOString()}`)).toEqual(['run-other']);
    expect(await ids(`?to=${t + 5_000}`)).toEqual(['run-http']);
    expect(await ids('?limit=1')).toEqual(['run-other']);
  });

  it('lists requests and summarises decisions and cost per agent and for the tenant', async () => {
    await trace.publish(gateChain({ ...run, agentId: 'hr-bot', runId: 'run-hr' }, 'req-hr', t + 20_000, 'refused'));
    await eventually(async () => (await trace.call<unknown[]>('GET', '/requests?agentId=hr-bot', auditor)).body.length);
    await trace.caughtUp();
    const ids = async (query: string) =>
      (await trace.call<{ id: string }[]>('GET', `/requests${query}`, auditor)).body.map((r) => r.id);
    expect(await ids('')).toEqual(['req-hr', 'req-other', 'req-deny', 'req-approved']);
    expect(await ids('?verdict=deny')).toEqual(['req-hr', 'req-deny']);
    expect(await ids('?runId=run-http')).toEqual(['req-deny', 'req-approved']);
    expect(await ids(`?from=${t + 50}&to=${t + 15_000}`)).toEqual(['req-other', 'req-deny']);
    expect((await trace.call('GET', '/requests?verdict=maybe', auditor)).body).toMatchObject({ field: 'verdict' });

    const agents = (await trace.call<Record<string, unknown>[]>('GET', '/summaries/agents', auditor)).body;
    expect(agents).toEqual([
      expect.objectContaining({ agentId: 'hr-bot', runs: 1, requests: 1, denied: 1, tokens: 0, costMicros: 0 }),
      expect.objectContaining({
        agentId: 'payroll-bot',
        runs: 2,
        requests: 3,
        allowed: 2,
        denied: 1,
        approvals: 1,
        completed: 2,
        tokens: 14,
        costMicros: 3000,
      }),
    ]);
    expect((await trace.call('GET', `/summaries/agents?agentId=hr-bot`, auditor)).body).toHaveLength(1);
    expect((await trace.call('GET', '/summaries/tenant', auditor)).body).toMatchObject({
      tenantId: 'acme',
      agents: 2,
      runs: 3,
      requests: 4,
      allowed: 2,
      denied: 2,
      tokens: 14,
      decisionLatencyMsMax: 5,
    });
    expect((await trace.call('GET', `/summaries/tenant?to=${t + 50}`, auditor)).body).toMatchObject({ requests: 1 });
    expect((await trace.call('GET', '/summaries/tenant', { ...auditor, tenant: 'globex' })).body).toMatchObject({
      requests: 0,
      tokens: 0,
    });
  });

  it('serves a tenant only its own traces, to reading roles only, with problem+json', async () => {
    const other = await trace.call('GET', '/requests/req-approved', { ...auditor, tenant: 'globex' });
    expect(other.status).toBe(404);
    expect(other.contentType).toContain('application/problem+json');
    expect((await trace.call('GET', '/runs/run-http', { ...auditor, tenant: 'globex' })).status).toBe(404);
    expect((await trace.call<unknown[]>('GET', '/runs', { ...auditor, tenant: 'globex' })).body).toEqual([]);
    expect((await trace.call('GET', '/requests/req-approved', { ...auditor, roles: 'approver' })).body).toMatchObject({
      status: 403,
      code: 'role_required',
    });
    expect((await trace.call('GET', '/runs', { ...auditor, tenant: '' })).body).toMatchObject({
      status: 400,
      field: 'tenant',
    });
    expect((await trace.call('GET', '/runs?verdict=maybe', auditor)).body).toMatchObject({
      status: 400,
      field: 'verdict',
    });
    for (const roles of ['owner', 'admin', 'sre']) {
      expect((await trace.call('GET', '/requests/req-approved', { ...auditor, roles })).status).toBe(200);
    }
  });

  it('asks which agent when several used the same run id', async () => {
    await trace.publish(gateChain({ ...run, agentId: 'other-bot' }, 'req-other-bot', t + 200, 'allow'));
    const ambiguous = await eventually(async () => {
      const r = await trace.call('GET', '/runs/run-http', auditor);
      return r.status === 409 ? r : undefined;
    });
    expect(ambiguous.body).toMatchObject({ code: 'ambiguous_run', field: 'agentId' });
    const one = await eventually(async () => {
      const r = await trace.call('GET', '/runs/run-http?agentId=other-bot', auditor);
      return r.body.allowed === 1 ? r.body : undefined;
    });
    expect(one).toMatchObject({ agentId: 'other-bot', requests: 1, allowed: 1 });
  });

  it('shows projection status and lag to platform admins, and rebuilds on request (every tenant is affected)', async () => {
    for (const who of [auditor, sre, { ...sre, roles: 'admin' }]) {
      expect((await trace.call('GET', '/admin/projections', who)).status).toBe(403);
      expect((await trace.call('POST', '/admin/projections/requests/rebuild', who)).status).toBe(403);
    }
    expect((await trace.call('POST', '/admin/projections/nope/rebuild', platformAdmin)).body).toMatchObject({
      status: 404,
      code: 'unknown_projection',
    });
    await trace.caughtUp();
    const before = await trace.checksum('trace.requests');
    expect((await trace.call('GET', '/admin/projections', platformAdmin)).body).toEqual(
      ['requests', 'runs', 'audit', 'kill_switches', 'holds'].map((name) => ({ name, status: 'running', lag: 0 })),
    );
    const accepted = await trace.call('POST', '/admin/projections/requests/rebuild', platformAdmin);
    expect(accepted).toMatchObject({ status: 202, body: { name: 'requests', status: 'rebuilding' } });
    await trace.caughtUp();
    expect(await trace.checksum('trace.requests')).toEqual(before);
    expect((await trace.call('GET', '/requests/req-approved', auditor)).body).toMatchObject({ verdict: 'allow' });
  });

  it("never reads the agent's raw gate.requests and gate.outcomes, so no credential or raw argument reaches a table", async () => {
    const rawRun = { ...run, runId: 'run-raw' };
    const secrets = ['eyJ.raw.agent-token', 'eyJ.raw.request-proof', 'eyJ.raw.outcome-proof', '4111 1111 1111 1111'];
    const ids = { requestId: 'req-raw', ...rawRun, stepId: 'step-raw', idempotencyKey: 'idem-raw' };
    await trace.publish([
      {
        topic: Topic.gateRequests,
        run: rawRun,
        time: t + 30_000,
        data: create(GateRequestedSchema, {
          ...ids,
          requestedAtMs: t + 30_000,
          deadlineMs: t + 60_000,
          tool: 'payments',
          action: 'charge',
          agentToken: secrets[0],
          requestProof: secrets[1],
          arguments: { card: secrets[3] },
        }),
      },
      {
        topic: Topic.gateOutcomes,
        run: rawRun,
        time: t + 30_001,
        data: create(StepCompletedSchema, { ...ids, actualTokens: 99, outcomeProof: secrets[2] }),
      },
    ]);
    // Caught up on every topic the projections read: a raw record on one of them would be applied by now.
    await trace.caughtUp();
    expect((await trace.call('GET', '/requests/req-raw', auditor)).status).toBe(404);
    expect((await trace.call('GET', '/runs/run-raw', auditor)).status).toBe(404);
    for (const table of ['trace.requests', 'trace.runs', 'trace.audit']) {
      const [{ dump }] = await trace.sql<{ dump: string }>(
        `SELECT coalesce(string_agg(t::text, '|'), '') AS dump FROM ${table} t`,
      );
      expect(dump.length).toBeGreaterThan(0);
      for (const secret of secrets) expect(dump).not.toContain(secret);
    }
  });
});
