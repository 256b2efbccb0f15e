import { StructSchema, ValueSchema } from '@bufbuild/protobuf/wkt';
import {
  ApprovalDeniedSchema,
  BudgetReleasedSchema,
  BudgetReservationRefusedSchema,
  create,
  StepFailedSchema,
  Topic,
  Verdict,
} from '@warden/contracts';
import {
  decided,
  envelope,
  fold,
  foldInPlace,
  fullChain,
  interleave,
  random,
  request,
  Sourced,
  T0,
} from './chain.fixtures';
import { RequestRow, requestsProjection } from './requests.projection';

const project = (events: readonly Sourced[]) => fold<RequestRow>(requestsProjection.evolve, events);
const on = (topic: Sourced['topic'], data: Parameters<typeof envelope>[0], time: number): Sourced => ({
  topic,
  event: envelope(data, time),
});

describe('trace.requests projection', () => {
  it('holds the whole chain of a request in one row', () => {
    const row = project(fullChain('r1'))!;
    expect(row).toMatchObject({
      id: 'r1',
      tenant_id: 'acme',
      agent_id: 'bot',
      run_id: 'run-1',
      step_id: 'step-r1',
      idempotency_key: 'idem-r1',
      attempt: 1,
      action_kind: 'tool_call',
      tool: 'tickets',
      action: 'read',
      requested_at: new Date(T0).toISOString(),
      deadline_at: new Date(T0 + 30_000).toISOString(),
      request_source: 'gate.requests',
      reservation_id: 'res-r1',
      reservation_status: 'settled',
      verdict: 'allow',
      reason: 'allow',
      decided_at: new Date(T0 + 5).toISOString(),
      decision_latency_ms: 5,
      decisions_seen: 2,
      approval_status: 'granted',
      outcome_status: 'completed',
      actual_tokens: 7,
      cost_micros: 1200,
      updated_at: new Date(T0 + 7).toISOString(),
    });
    expect(row.request).toMatchObject({ requestId: 'r1', actionKind: 'ACTION_KIND_TOOL_CALL', tool: 'tickets' });
    expect(row.reservation).toEqual({
      reservationId: 'res-r1',
      reservedTokens: 10,
      reservedAtMs: T0 + 1,
    });
    expect(row.settlement).toMatchObject({ reservationId: 'res-r1', requestId: 'r1', actualTokens: 7 });
    expect(row.decision).toMatchObject({ verdict: 'VERDICT_ALLOW', final: true });
    expect(row.decision).not.toHaveProperty('request');
    expect(row.approval).toMatchObject({ opened: { taskId: 'task-r1' }, granted: { approvedBy: 'ann' } });
    expect(row.approval).not.toHaveProperty('opened.request');
    expect(row.outcome).toMatchObject({ actualTokens: 7, actualCost: { currency: 'USD', micros: 1200 } });
  });

  it('builds the same row whatever the order in which the topics are read', () => {
    const events = fullChain('r1');
    const expected = project(events);
    const next = random(42);
    for (let i = 0; i < 200; i++) expect(project(interleave(events, next))).toEqual(expected);
  });

  it('evolves a row in place (a bulk rebuild) into the row evolve makes, whatever the order', () => {
    const events = fullChain('r1');
    const next = random(5);
    for (let i = 0; i < 200; i++) {
      const order = interleave(events, next);
      expect(foldInPlace(requestsProjection.evolveInPlace!, order, 1 + (i % 4))).toEqual(project(order));
    }
  });

  it('starts a row from any event, identified by the envelope until the request is seen', () => {
    for (const { topic, event } of fullChain('r1')) {
      const row = requestsProjection.evolve(null, event)!;
      expect({ topic, id: row.id, tenant: row.tenant_id, run: row.run_id }).toEqual({
        topic,
        id: 'r1',
        tenant: 'acme',
        run: 'run-1',
      });
    }
    const [, , , , granted] = fullChain('r1');
    expect(requestsProjection.evolve(null, granted.event)).toMatchObject({
      request: null,
      step_id: null,
      approval_status: 'granted',
    });
  });

  it('takes the request from the most authoritative copy: the gate request over embedded ones', () => {
    const embedded = request('r1', { action: 'embedded' });
    const own = request('r1', { action: 'own' });
    const fromDecision = on(Topic.gateDecisions, decided(embedded, Verdict.DENY, T0 + 2), T0 + 2);
    const fromRequest = on(Topic.gateRequests, own, T0);
    for (const events of [
      [fromDecision, fromRequest],
      [fromRequest, fromDecision],
    ]) {
      expect(project(events)).toMatchObject({ action: 'own', request_source: 'gate.requests' });
    }
    expect(project([fromDecision])).toMatchObject({ action: 'embedded', request_source: 'gate.decisions' });
  });

  it('keeps the final decision over pending_approval, and the first of duplicates, counting each', () => {
    const req = request('r1');
    const pending = on(Topic.gateDecisions, decided(req, Verdict.PENDING_APPROVAL, T0 + 1), T0 + 1);
    const denied = on(Topic.gateDecisions, decided(req, Verdict.DENY, T0 + 2), T0 + 2);
    const again = on(Topic.gateDecisions, decided(req, Verdict.ALLOW, T0 + 3), T0 + 3);
    expect(project([pending])).toMatchObject({ verdict: 'pending_approval', decisions_seen: 1 });
    expect(project([pending, denied, denied, pending, again])).toMatchObject({
      verdict: 'deny',
      decided_at: new Date(T0 + 2).toISOString(),
      decisions_seen: 5,
    });
  });

  it('records refusals, releases, denials of approval and failures', () => {
    const req = request('r1');
    const row = project([
      on(Topic.budgetReservations, create(BudgetReservationRefusedSchema, { reservationId: 'x', request: req }), T0),
      on(Topic.approvalEvents, create(ApprovalDeniedSchema, { requestId: 'r1', deniedBy: 'bob' }), T0 + 1),
      on(Topic.gateOutcomes, create(StepFailedSchema, { requestId: 'r1', actualTokens: 3, error: 'boom' }), T0 + 2),
    ]);
    expect(row).toMatchObject({
      reservation_status: 'refused',
      approval_status: 'denied',
      outcome_status: 'failed',
      actual_tokens: 3,
      cost_micros: 0,
      request_source: 'budget.reservations',
    });
    const released = project([
      on(Topic.budgetReservations, create(BudgetReleasedSchema, { reservationId: 'y', requestId: 'r2' }), T0),
    ]);
    expect(released).toMatchObject({ id: 'r2', reservation_id: 'y', reservation_status: 'released' });
  });

  it('ignores events that name no request', () => {
    const [, reserved] = fullChain('');
    expect(requestsProjection.rowId(reserved.event)).toBeUndefined();
    expect(
      requestsProjection.rowId(envelope(create(BudgetReleasedSchema, { reservationId: 'y' }), T0)),
    ).toBeUndefined();
  });

  it('stores what Postgres cannot: NUL replaced, bad times as null, NaN in a Struct as a reason', () => {
    const nan = create(StructSchema, {
      fields: { x: create(ValueSchema, { kind: { case: 'numberValue', value: NaN } }) },
    });
    const req = {
      ...request('r\u0000', { tool: 'a\u0000b', action: '\u0000', requestedAtMs: 1e300, deadlineMs: -5 }),
      attempt: 4_000_000_000,
      redactedArguments: nan,
    };
    const row = requestsProjection.evolve(null, envelope(req, Number.NaN))!;
    expect(requestsProjection.rowId(envelope(req, T0))).toBe('r\ufffd');
    expect(row).toMatchObject({
      id: 'r\ufffd',
      tool: 'a\ufffdb',
      action: '\ufffd',
      requested_at: null,
      deadline_at: null,
      attempt: 2_147_483_647,
      updated_at: null,
    });
    expect(row.request).toEqual({ unrepresentable: expect.stringContaining('NaN') });
  });
});
