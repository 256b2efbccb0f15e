import { createHash } from 'node:crypto';
import {
  ApprovalExpiredSchema,
  ApprovalGrantedSchema,
  ApprovalTaskOpenedSchema,
  BudgetReleasedSchema,
  BudgetReservationRefusedSchema,
  BudgetReservedSchema,
  BudgetSettledSchema,
  ActionKind,
  create,
  DecisionContextSchema,
  encode,
  EvaluationSchema,
  GateDecidedSchema,
  GateRequested,
  GateRequestedSchema,
  Message,
  MessageInitShape,
  MoneySchema,
  ReservationRefSchema,
  RiskClass,
  StateVersionsSchema,
  StepCompletedSchema,
  Topic,
  TopicName,
  topicName,
  Verdict,
} from '@warden/contracts';
import { callerHeaders, KafkaPort, RecordOut, ServiceRuntime } from '@warden/platform';
import {
  eventually,
  freshDatabase,
  InProcessService,
  provisionedPort,
  startInProcess,
  uniquePrefix,
} from '@warden/platform/testing';
import { Client } from 'pg';
import { readTraceConfig } from '../config';
import { TraceProjections } from '../projections';
import { traceService, TraceOptions } from '../service';
import { TraceWorkers } from '../workers';

/** The trace service on the real broker and a fresh database, for the integration specs. */
export class TraceHarness {
  private service: InProcessService | undefined;
  runtime!: ServiceRuntime;
  projections!: TraceProjections;
  workers!: TraceWorkers;
  url = '';

  private constructor(
    readonly prefix: string,
    readonly db: { url: string; drop(): Promise<void> },
    readonly port: KafkaPort,
    private readonly options: TraceOptions,
    private readonly extraEnv: Record<string, string>,
  ) {}

  static async start(
    name: string,
    options: TraceOptions = {},
    env: Record<string, string> = {},
  ): Promise<TraceHarness> {
    const prefix = uniquePrefix(name);
    const harness = new TraceHarness(prefix, await freshDatabase(name), await provisionedPort(prefix, 3), options, env);
    await harness.startService();
    return harness;
  }

  /** The environment the service runs with (for the CLI, run in process). */
  get env(): Record<string, string> {
    return {
      DATABASE_URL: this.db.url,
      WARDEN_TOPIC_PREFIX: this.prefix,
      WARDEN_INSTANCE_ID: 'trace-test',
      WARDEN_PARTITIONS: '3',
      ...this.extraEnv,
    };
  }

  async startService(): Promise<void> {
    this.service = await startInProcess(
      readTraceConfig,
      (config) => {
        const built = traceService(config, this.options);
        this.projections = built.projections;
        this.workers = built.workers;
        return built;
      },
      this.env,
    );
    this.runtime = this.service.runtime;
    this.url = this.service.url;
  }

  async stopService(): Promise<void> {
    await this.service?.close();
    this.service = undefined;
  }

  async stop(): Promise<void> {
    await this.stopService();
    await this.port.close();
    await this.db.drop();
  }

  async sql<T>(text: string): Promise<T[]> {
    const client = new Client({ connectionString: this.db.url });
    await client.connect();
    try {
      return (await client.query(text)).rows as T[];
    } finally {
      await client.end();
    }
  }

  publish(events: readonly GateEvent[]) {
    return this.port.publish(events.map((e) => this.record(e)));
  }

  record({ topic, data, time, run, key, traceparent }: GateEvent): RecordOut {
    return {
      topic: topicName(this.prefix, topic),
      ...encode({
        id: `${data.$typeName}-${Math.random()}`,
        type: data.$typeName,
        source: 'test',
        time,
        key: key ?? run.runId,
        ...run,
        traceparent,
        data,
      }),
    };
  }

  /** Waits until every projection has applied everything on its topics. */
  caughtUp(): Promise<true> {
    return eventually(
      async () => {
        const states = await this.projections.states();
        return states.every((s) => s.lag === 0 && s.status === 'running') || undefined;
      },
      60_000,
      'the projections to catch up',
    );
  }

  /** The row count and an md5 of every row of a table, in id order. */
  async checksum(table: string): Promise<{ rows: number; md5: string }> {
    const [r] = await this.sql<{ rows: number; md5: string }>(
      `SELECT count(*)::int AS rows, md5(string_agg(t::text, '|' ORDER BY id)) AS md5 FROM ${table} t`,
    );
    return r;
  }

  async call<T = Record<string, unknown>>(method: 'GET' | 'POST', path: string, who: Identity, body?: unknown) {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { ...(await callerHeaders(who)), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: res.status,
      contentType: res.headers.get('content-type') ?? '',
      body: (await res.json()) as T,
    };
  }
}

export interface Identity {
  readonly subject: string;
  readonly roles: string;
  readonly tenant: string;
}

export interface RunRef {
  readonly tenantId: string;
  readonly agentId: string;
  readonly runId: string;
}

export interface GateEvent {
  readonly topic: TopicName;
  readonly data: Message;
  readonly time: number;
  readonly run: RunRef;
  /** The record key when it is not the run id (registry, kill-switch and hold events). */
  readonly key?: string;
  readonly traceparent?: string;
}

export type Path = 'allow' | 'deny' | 'approved' | 'expired' | 'refused';

/**
 * The trace context a gate stage publishes with when it handled a request of the agent's trace
 * (docs/adr/0070, "Traces continue"): the agent's trace, the stage's own span (a made-up id,
 * distinct per stage and event).
 */
export function stageTraceparent(agent: string, stage: string): string {
  const [version, traceId, spanId, flags] = agent.split('-');
  const span = createHash('sha256').update(`${spanId}/${stage}`).digest('hex').slice(0, 16);
  return [version, traceId, span, flags].join('-');
}

/**
 * The events of one gate request along a path, as trace reads them: the budget stage's answer
 * (the request of record embedded), policy's decisions (the request embedded), approval, and the
 * budget stage's settlement or release, which carries the agent's outcome as the gate accepted
 * it. The agent's raw gate.requests and gate.outcomes records are not among them: trace never
 * reads those (docs/adr/0070). Each event is at its own time from `t`; with the agent's
 * `traceparent`, each is published in the agent's trace with its stage's span (`stageTraceparent`).
 */
export function gateChain(
  run: RunRef,
  requestId: string,
  t: number,
  path: Path,
  over: MessageInitShape<typeof GateRequestedSchema> = {},
  traceparent?: string,
): GateEvent[] {
  const request: GateRequested = create(GateRequestedSchema, {
    requestId,
    idempotencyKey: `idem-${requestId}`,
    stepId: `step-${requestId}`,
    attempt: 1,
    requestedAtMs: t,
    deadlineMs: t + 30_000,
    ...run,
    actionKind: ActionKind.TOOL_CALL,
    tool: 'tickets',
    action: path,
    estimatedTokens: 10,
    ...over,
  });
  const reservationId = `res-${requestId}`;
  const ids = { requestId, runId: run.runId, tenantId: run.tenantId, agentId: run.agentId };
  const step = { stepId: request.stepId, idempotencyKey: request.idempotencyKey };
  const at = (topic: TopicName, data: Message, dt: number): GateEvent => ({
    topic,
    data,
    time: t + dt,
    run,
    traceparent: traceparent && stageTraceparent(traceparent, `${topic}@${dt}`),
  });
  const decided = (verdict: Verdict, dt: number) =>
    at(
      Topic.gateDecisions,
      create(GateDecidedSchema, {
        decisionId: `d-${requestId}-${dt}`,
        ...ids,
        ...step,
        verdict,
        reason: Verdict[verdict].toLowerCase(),
        decidedAtMs: t + dt,
        request,
        final: verdict !== Verdict.PENDING_APPROVAL,
        context: create(DecisionContextSchema, {
          evaluations: [
            create(EvaluationSchema, {
              policyId: 'warden.registry',
              version: 'builtin-2',
              result: verdict === Verdict.DENY ? 'deny' : 'pass',
            }),
          ],
          riskScore: 10,
          riskClass: RiskClass.LOW,
          reservation: create(ReservationRefSchema, { reservationId, granted: path !== 'refused', reservedTokens: 10 }),
          versions: create(StateVersionsSchema, { policyBundleVersion: 'builtin-2' }),
        }),
      }),
      dt,
    );
  const reserved = at(
    Topic.budgetReservations,
    create(BudgetReservedSchema, { reservationId, request, reservedTokens: 10, reservedAtMs: t + 1 }),
    1,
  );
  /** The settlement of the step the agent reported completed at `dt - 1`, with its report. */
  const settled = (dt: number) => {
    const actualCost = create(MoneySchema, { currency: 'USD', micros: 1500 });
    return at(
      Topic.budgetReservations,
      create(BudgetSettledSchema, {
        reservationId,
        ...ids,
        ...step,
        actualTokens: 7,
        actualCost,
        settledAtMs: t + dt,
        outcome: create(StepCompletedSchema, {
          ...ids,
          ...step,
          actualTokens: 7,
          actualCost,
          completedAtMs: t + dt - 1,
        }),
      }),
      dt,
    );
  };
  /** The release after a deny or an expiry: no step ran, nothing was reported. */
  const released = (dt: number, reason: string) =>
    at(
      Topic.budgetReservations,
      create(BudgetReleasedSchema, { reservationId, ...ids, reason, releasedAtMs: t + dt }),
      dt,
    );
  const opened = at(
    Topic.approvalEvents,
    create(ApprovalTaskOpenedSchema, { taskId: `task-${requestId}`, requestId, request, openedAtMs: t + 3 }),
    3,
  );
  switch (path) {
    case 'allow':
      return [reserved, decided(Verdict.ALLOW, 2), settled(5)];
    case 'deny':
      return [reserved, decided(Verdict.DENY, 2), released(3, 'decision deny: deny')];
    case 'refused':
      return [
        at(
          Topic.budgetReservations,
          create(BudgetReservationRefusedSchema, { reservationId, request, reason: 'over budget', refusedAtMs: t + 1 }),
          1,
        ),
        decided(Verdict.DENY, 2),
      ];
    case 'approved':
      return [
        reserved,
        decided(Verdict.PENDING_APPROVAL, 2),
        opened,
        at(
          Topic.approvalEvents,
          create(ApprovalGrantedSchema, { taskId: `task-${requestId}`, ...ids, approvedBy: 'ann', grantedAtMs: t + 4 }),
          4,
        ),
        decided(Verdict.ALLOW, 5),
        decided(Verdict.ALLOW, 5),
        settled(7),
      ];
    case 'expired':
      return [
        reserved,
        decided(Verdict.PENDING_APPROVAL, 2),
        opened,
        at(
          Topic.approvalEvents,
          create(ApprovalExpiredSchema, { taskId: `task-${requestId}`, ...ids, expiredAtMs: t + 4 }),
          4,
        ),
        decided(Verdict.EXPIRED, 5),
        released(6, 'decision expired: expired'),
      ];
  }
}
