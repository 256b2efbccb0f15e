import { StructSchema, ValueSchema } from '@bufbuild/protobuf/wkt';
import {
  ApprovalDeniedSchema,
  ApprovalGrantedSchema,
  ApprovalTaskOpenedSchema,
  BudgetReleasedSchema,
  BudgetReservationRefusedSchema,
  BudgetReservedSchema,
  create,
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
  released,
  request,
  Sourced,
  T0,
} from './chain.fixtures';
import { RequestRow, requestsProjection } from './requests.projection';

const project = (events: readonly Sourced[]) => fold<RequestRow>(requestsProjection.evolve, events);
const on = (
  topic: Sourced['topic'],
  data: Parameters<typeof envelope>[0],
  time: number,
  traceparent?: string,
): Sourced => ({
  topic,
  event: envelope(data, time, undefined, traceparent),
});
const reserved = (req: ReturnType<typeof request>, reservationId = `res-${req.requestId}`) =>
  create(BudgetReservedSchema, { reservationId, request: req, reservedTokens: 10 });
const ofType = (events: readonly Sourced[], typeName: string) => events.find((e) => e.event.type === typeName)!;

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
      request_source: 'budget.reservations',
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
    // The agent's report as the budget stage accepted it, carried by the settlement.
    expect(row.outcome).toMatchObject({
      requestId: 'r1',
      actualTokens: 7,
      actualCost: { currency: 'USD', micros: 1200 },
      completedAtMs: T0 + 6,
    });
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
    const granted = ofType(fullChain('r1'), ApprovalGrantedSchema.typeName);
    expect(requestsProjection.evolve(null, granted.event)).toMatchObject({
      request: null,
      step_id: null,
      approval_status: 'granted',
    });
  });

  it('takes the request and its trace context from the most authoritative copy, whatever the order', () => {
    const tp = (n: number) => `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b${n}-01`;
    const fromReservation = on(
      Topic.budgetReservations,
      reserved(request('r1', { action: 'reserved' })),
      T0 + 1,
      tp(1),
    );
    const fromDecision = on(
      Topic.gateDecisions,
      decided(request('r1', { action: 'decided' }), Verdict.PENDING_APPROVAL, T0 + 2),
      T0 + 2,
      tp(2),
    );
    const fromApproval = on(
      Topic.approvalEvents,
      create(ApprovalTaskOpenedSchema, { taskId: 't', requestId: 'r1', request: request('r1', { action: 'opened' }) }),
      T0 + 3,
      tp(3),
    );
    const orders = (events: Sourced[]): Sourced[][] =>
      events.length <= 1
        ? [events]
        : events.flatMap((e, i) => orders([...events.slice(0, i), ...events.slice(i + 1)]).map((o) => [e, ...o]));
    for (const events of orders([fromReservation, fromDecision, fromApproval])) {
      expect(project(events)).toMatchObject({
        action: 'reserved',
        request_source: 'budget.reservations',
        traceparent: tp(1),
      });
    }
    for (const events of orders([fromDecision, fromApproval])) {
      expect(project(events)).toMatchObject({
        action: 'decided',
        request_source: 'gate.decisions',
        traceparent: tp(2),
      });
    }
    expect(project([fromApproval])).toMatchObject({
      action: 'opened',
      request_source: 'approval.events',
      traceparent: tp(3),
    });
    // A copy published without trace context leaves none, even when a less authoritative copy had one.
    const untraced = on(Topic.budgetReservations, reserved(request('r1', { action: 'reserved' })), T0 + 1);
    expect(project([fromDecision, untraced])).toMatchObject({
      request_source: 'budget.reservations',
      traceparent: null,
    });
    // Events that carry no copy of the request never set it.
    const granted = on(Topic.approvalEvents, create(ApprovalGrantedSchema, { requestId: 'r1' }), T0 + 4, tp(4));
    expect(project([granted])).toMatchObject({ request_source: null, traceparent: null });
  });

  it('keeps no credential or raw argument of the request, whatever its copy carried', () => {
    const raw = request('r1', {
      agentToken: 'eyJ.agent.token',
      agentTokenId: 'tok-1',
      requestProof: 'eyJ.request.proof',
      arguments: { card: '4111 1111 1111 1111' },
      redactedArguments: { card: '[redacted]' },
      redactedPaths: ['card'],
    });
    for (const event of [
      on(Topic.budgetReservations, reserved(raw), T0 + 1),
      on(Topic.gateDecisions, decided(raw, Verdict.ALLOW, T0 + 2), T0 + 2),
    ]) {
      const row = project([event])!;
      const stored = JSON.stringify(row);
      for (const secret of ['eyJ.agent.token', 'eyJ.request.proof', '4111']) expect(stored).not.toContain(secret);
      expect(row.request).toMatchObject({
        agentTokenId: 'tok-1',
        redactedArguments: { card: '[redacted]' },
        redactedPaths: ['card'],
      });
      expect(row.request).not.toHaveProperty('arguments');
    }
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
    const refused = project([
      on(
        Topic.budgetReservations,
        create(BudgetReservationRefusedSchema, { reservationId: 'x', request: request('r1') }),
        T0,
      ),
      on(Topic.approvalEvents, create(ApprovalDeniedSchema, { requestId: 'r1', deniedBy: 'bob' }), T0 + 1),
    ]);
    expect(refused).toMatchObject({
      reservation_status: 'refused',
      approval_status: 'denied',
      outcome_status: null,
      request_source: 'budget.reservations',
    });
    // A failed step: the agent's report rides on the release it caused, with what it used.
    const req = request('r3');
    const failed = project([
      on(Topic.budgetReservations, reserved(req), T0),
      on(Topic.gateDecisions, decided(req, Verdict.ALLOW, T0 + 1), T0 + 1),
      on(Topic.budgetReservations, released(req, T0 + 2, { tokens: 3, micros: 0 }), T0 + 2),
    ])!;
    expect(failed).toMatchObject({
      reservation_status: 'released',
      outcome_status: 'failed',
      actual_tokens: 3,
      cost_micros: 0,
      request_source: 'budget.reservations',
    });
    expect(failed.outcome).toMatchObject({ requestId: 'r3', error: 'boom', actualTokens: 3 });
    expect(failed.settlement).toMatchObject({ reservationId: 'res-r3', chargedTokens: 3 });
    // Released by a decision (no report): no outcome.
    const byDecision = project([
      on(Topic.budgetReservations, create(BudgetReleasedSchema, { reservationId: 'y', requestId: 'r2' }), T0),
    ]);
    expect(byDecision).toMatchObject({
      id: 'r2',
      reservation_id: 'y',
      reservation_status: 'released',
      outcome: null,
      outcome_status: null,
      actual_tokens: null,
    });
  });

  it('ignores events that name no request', () => {
    expect(requestsProjection.rowId(ofType(fullChain(''), BudgetReservedSchema.typeName).event)).toBeUndefined();
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
    // Set past create(), which would not take a Struct message as its arguments' JSON.
    const answer = { ...reserved(request('r\u0000')), request: req };
    const row = requestsProjection.evolve(null, envelope(answer, Number.NaN))!;
    expect(requestsProjection.rowId(envelope(answer, T0))).toBe('r\ufffd');
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
