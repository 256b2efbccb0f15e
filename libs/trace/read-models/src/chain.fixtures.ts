import {
  ActionKind,
  ApprovalGrantedSchema,
  ApprovalTaskOpenedSchema,
  BudgetReleasedSchema,
  BudgetReservedSchema,
  BudgetSettledSchema,
  create,
  Envelope,
  GateDecidedSchema,
  GateRequested,
  GateRequestedSchema,
  Message,
  MoneySchema,
  StepCompletedSchema,
  StepFailedSchema,
  Topic,
  TopicName,
  Verdict,
} from '@warden/contracts';

/** Events of one gate request's chain, for the projection specs. */
export const T0 = Date.UTC(2025, 0, 1);

export interface Sourced {
  readonly topic: TopicName;
  readonly event: Envelope;
}

export function envelope(
  data: Message,
  time: number,
  run = { tenantId: 'acme', agentId: 'bot', runId: 'run-1' },
  traceparent?: string,
) {
  return {
    id: `${data.$typeName}-${time}-${Math.random()}`,
    type: data.$typeName,
    source: 'test',
    time,
    key: run.runId,
    ...run,
    traceparent,
    data,
  } satisfies Envelope;
}

export function request(requestId: string, over: Partial<Omit<GateRequested, '$typeName' | '$unknown'>> = {}) {
  return create(GateRequestedSchema, {
    requestId,
    idempotencyKey: `idem-${requestId}`,
    stepId: `step-${requestId}`,
    attempt: 1,
    requestedAtMs: T0,
    deadlineMs: T0 + 30_000,
    tenantId: 'acme',
    agentId: 'bot',
    runId: 'run-1',
    actionKind: ActionKind.TOOL_CALL,
    tool: 'tickets',
    action: 'read',
    estimatedTokens: 10,
    ...over,
  });
}

export function decided(req: GateRequested, verdict: Verdict, at: number, decisionId = `d-${req.requestId}-${at}`) {
  return create(GateDecidedSchema, {
    decisionId,
    requestId: req.requestId,
    tenantId: req.tenantId,
    agentId: req.agentId,
    runId: req.runId,
    stepId: req.stepId,
    idempotencyKey: req.idempotencyKey,
    verdict,
    reason: Verdict[verdict].toLowerCase(),
    decidedAtMs: at,
    request: req,
    final: verdict !== Verdict.PENDING_APPROVAL,
  });
}

/**
 * The budget stage's settlement of a completed step: the agent's report as the gate accepted it
 * (proof dropped) rides on it, with the use it settled to (docs/adr/0070).
 */
export function settled(
  req: GateRequested,
  at: number,
  tokens = 7,
  micros = 1200,
  reservationId = `res-${req.requestId}`,
) {
  const actualCost = create(MoneySchema, { currency: 'USD', micros });
  return create(BudgetSettledSchema, {
    reservationId,
    requestId: req.requestId,
    tenantId: req.tenantId,
    agentId: req.agentId,
    runId: req.runId,
    idempotencyKey: req.idempotencyKey,
    stepId: req.stepId,
    actualTokens: tokens,
    actualCost,
    settledAtMs: at,
    outcome: create(StepCompletedSchema, {
      requestId: req.requestId,
      stepId: req.stepId,
      idempotencyKey: req.idempotencyKey,
      tenantId: req.tenantId,
      agentId: req.agentId,
      runId: req.runId,
      actualTokens: tokens,
      actualCost,
      completedAtMs: at - 1,
    }),
  });
}

/**
 * The budget stage's release: by a decision (deny, expiry) or a stale hold when `failed` is not
 * given, else by the agent's accepted failure report, which rides on it with what it charged.
 */
export function released(
  req: GateRequested,
  at: number,
  failed?: { tokens: number; micros: number },
  reservationId = `res-${req.requestId}`,
) {
  const ids = { requestId: req.requestId, tenantId: req.tenantId, agentId: req.agentId, runId: req.runId };
  const cost = failed && create(MoneySchema, { currency: 'USD', micros: failed.micros });
  return create(BudgetReleasedSchema, {
    reservationId,
    ...ids,
    reason: failed ? 'step failed: boom' : 'released by a decision or an expired hold',
    releasedAtMs: at,
    chargedTokens: failed?.tokens ?? 0,
    chargedCost: cost,
    outcome:
      failed &&
      create(StepFailedSchema, {
        ...ids,
        stepId: req.stepId,
        idempotencyKey: req.idempotencyKey,
        actualTokens: failed.tokens,
        actualCost: cost,
        error: 'boom',
        failedAtMs: at - 1,
      }),
  });
}

/**
 * A full chain by topic, as trace reads it (the request of record embedded, never the agent's raw
 * gate.requests or gate.outcomes): reservation, pending decision, approval, final decision, and
 * the settlement carrying the outcome.
 */
export function fullChain(requestId: string, over: Parameters<typeof request>[1] = {}): Sourced[] {
  const req = request(requestId, over);
  const run = { tenantId: req.tenantId, agentId: req.agentId, runId: req.runId };
  const at = (topic: TopicName, data: Message, time: number): Sourced => ({
    topic,
    event: envelope(data, time, run),
  });
  const t = req.requestedAtMs;
  return [
    at(
      Topic.budgetReservations,
      create(BudgetReservedSchema, {
        reservationId: `res-${requestId}`,
        request: req,
        reservedTokens: 10,
        reservedAtMs: t + 1,
      }),
      t + 1,
    ),
    at(Topic.gateDecisions, decided(req, Verdict.PENDING_APPROVAL, t + 2), t + 2),
    at(
      Topic.approvalEvents,
      create(ApprovalTaskOpenedSchema, { taskId: `task-${requestId}`, requestId, request: req, openedAtMs: t + 3 }),
      t + 3,
    ),
    at(
      Topic.approvalEvents,
      create(ApprovalGrantedSchema, {
        taskId: `task-${requestId}`,
        requestId,
        runId: req.runId,
        approvedBy: 'ann',
        grantedAtMs: t + 4,
      }),
      t + 4,
    ),
    at(Topic.gateDecisions, decided(req, Verdict.ALLOW, t + 5), t + 5),
    at(Topic.budgetReservations, settled(req, t + 7), t + 7),
  ];
}

/** A deterministic pseudo-random generator (mulberry32), so a failing interleaving can be replayed. */
export function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An interleaving of the events that keeps each topic's own order, as partitions are replayed. */
export function interleave(events: readonly Sourced[], next: () => number): Sourced[] {
  const queues = new Map<TopicName, Sourced[]>();
  for (const e of events) queues.set(e.topic, [...(queues.get(e.topic) ?? []), e]);
  const out: Sourced[] = [];
  while (queues.size > 0) {
    const topics = [...queues.keys()];
    const topic = topics[Math.floor(next() * topics.length)];
    const queue = queues.get(topic)!;
    out.push(queue.shift()!);
    if (queue.length === 0) queues.delete(topic);
  }
  return out;
}

/**
 * Folds events through a projection's evolve, with a JSON round trip in between as a database
 * would do; the row evolve gets is frozen, so a change to it throws.
 */
export function fold<R>(evolve: (row: R | null, event: Envelope) => R | null, events: readonly Sourced[]) {
  let row: R | null = null;
  for (const { event } of events) row = deepFreeze(JSON.parse(JSON.stringify(evolve(row, event))) as R | null);
  return row;
}

/**
 * Folds events through a projection's evolveInPlace as a bulk rebuild does: one row changed in
 * place, written and loaded back (a JSON round trip) every `reloadEvery` events.
 */
export function foldInPlace<R>(
  evolveInPlace: (row: R | null, event: Envelope) => R | null,
  events: readonly Sourced[],
  reloadEvery = Infinity,
) {
  let row: R | null = null;
  events.forEach(({ event }, i) => {
    row = evolveInPlace(row, event);
    if ((i + 1) % reloadEvery === 0) row = JSON.parse(JSON.stringify(row)) as R | null;
  });
  return JSON.parse(JSON.stringify(row)) as R | null;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
