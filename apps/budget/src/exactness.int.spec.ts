import {
  ActionKind,
  BudgetDefinedSchema,
  BudgetReservationRefused,
  BudgetReserved,
  BudgetScope,
  create,
  Dimension,
  GateRequestedSchema,
  LimitSchema,
  Topic,
  Window,
} from '@warden/contracts';
import { RunBudgetState } from '@warden/budget-domain';
import { createServiceRuntime, DEV_KEY_ENCRYPTION_KEY, KafkaPort, Processor, ServiceRuntime } from '@warden/platform';
import {
  connectedPort,
  eventually,
  kafkaBrokers,
  provisionedPort,
  publishEvent,
  TopicRecorder,
  uniquePrefix,
} from '@warden/platform/testing';
import { wireBudgetDefinitions } from './budget-definitions';
import { readBudgetConfig, runDefaults } from './config';
import { wireLedger } from './ledger.processor';
import { wireReferenceTables } from './reference-tables';
import { wireReservations } from './reservations.processor';

type Answer = BudgetReserved | BudgetReservationRefused;

/**
 * Invariant 3, "budgets are never exceeded", with several budget service instances in one consumer
 * group on one broker: many runs on every partition race for a tenant budget and for per-agent
 * budgets at their limits, while one instance leaves half way (its partitions move to the others).
 */
describe('budget exactness: several instances, concurrent requests at the limit (real Kafka)', () => {
  const prefix = uniquePrefix('budget-exact');
  const PARTITIONS = 6;
  const TENANT_LIMIT = 1000;
  const AGENT_LIMIT = 300;
  const AGENTS = ['a0', 'a1', 'a2', 'a3', 'a4'];
  const RUNS = 60;
  const STEPS = 5;
  const TOKENS = 10;
  let port: KafkaPort;
  let recorder: TopicRecorder;
  const instances: { runtime: ServiceRuntime; reservations: Processor<unknown, RunBudgetState, never> }[] = [];

  const startInstance = async (id: string) => {
    const config = readBudgetConfig({
      KAFKA_BROKERS: kafkaBrokers().join(','),
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_INSTANCE_ID: id,
      WARDEN_PARTITIONS: String(PARTITIONS),
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
      WARDEN_KEY_ENCRYPTION_KEY: DEV_KEY_ENCRYPTION_KEY,
    });
    const runtime = createServiceRuntime('budget', config);
    const definitions = wireBudgetDefinitions(runtime, id);
    const tables = wireReferenceTables(runtime, id);
    const settings = {
      defaults: runDefaults(config),
      reservationTtlMs: 3_600_000,
      approvalHoldMs: 3_600_000,
      maxDeadlineMs: 300_000,
    };
    const reservations = wireReservations(runtime, definitions.table, tables, settings);
    wireLedger(runtime, definitions.table, tables, settings.defaults);
    await runtime.start();
    instances.push({ runtime, reservations: reservations as unknown as Processor<unknown, RunBudgetState, never> });
  };

  beforeAll(async () => {
    port = await provisionedPort(prefix, PARTITIONS);
    await publishEvent(
      port,
      prefix,
      Topic.budgetEvents,
      'exact',
      create(BudgetDefinedSchema, {
        budgetId: 'tenant-day',
        tenantId: 'exact',
        scope: BudgetScope.TENANT,
        limits: [
          create(LimitSchema, { dimension: Dimension.TOKENS, limit: TENANT_LIMIT, window: Window.CALENDAR_DAY }),
        ],
      }),
      { tenantId: 'exact' },
    );
    await publishEvent(
      port,
      prefix,
      Topic.budgetEvents,
      'exact',
      create(BudgetDefinedSchema, {
        budgetId: 'each-agent-day',
        tenantId: 'exact',
        scope: BudgetScope.AGENT,
        limits: [create(LimitSchema, { dimension: Dimension.TOKENS, limit: AGENT_LIMIT, window: Window.CALENDAR_DAY })],
      }),
      { tenantId: 'exact' },
    );
    await Promise.all(['e1', 'e2', 'e3'].map(startInstance));
    recorder = await TopicRecorder.start(port, prefix, [Topic.budgetReservations]);
  });
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.runtime.stop()));
    await recorder.stop();
    await port.close();
  });

  it('grants exactly the budget, never more, and answers every request exactly once', async () => {
    const requests = Array.from({ length: RUNS * STEPS }, (_, i) => {
      const run = i % RUNS;
      return create(GateRequestedSchema, {
        requestId: `q${i}`,
        tenantId: 'exact',
        agentId: AGENTS[run % AGENTS.length],
        runId: `run-${run}`,
        actionKind: ActionKind.MODEL_CALL,
        estimatedTokens: TOKENS,
        requestedAtMs: Date.now(),
        deadlineMs: Date.now() + 120_000,
      });
    });
    // Four producers publish at once; one instance leaves when half the requests are out.
    const producers = await Promise.all([1, 2, 3, 4].map((n) => connectedPort(`exact-load-${n}`)));
    const half = requests.length / 2;
    const send = (from: number, to: number) =>
      Promise.all(
        producers.map(async (p, n) => {
          for (let i = from + n; i < to; i += producers.length) {
            const r = requests[i];
            await publishEvent(p, prefix, Topic.gateRequests, r.runId, r, { tenantId: r.tenantId, agentId: r.agentId });
          }
        }),
      );
    await send(0, half);
    const leaving = instances[0];
    await Promise.all([leaving.runtime.stop(), send(half, requests.length)]);
    await Promise.all(producers.map((p) => p.close()));

    const answers = await eventually(
      () => {
        const all = recorder
          .events(Topic.budgetReservations)
          .map((e) => e.data as Answer)
          .filter(
            (a) =>
              a.$typeName === 'warden.budget.v1.BudgetReserved' ||
              a.$typeName === 'warden.budget.v1.BudgetReservationRefused',
          );
        return new Set(all.map((a) => a.request?.requestId)).size === requests.length && all;
      },
      90_000,
      'an answer to every request',
    );
    const perRequest = new Map<string, number>();
    for (const a of answers) perRequest.set(a.request!.requestId, (perRequest.get(a.request!.requestId) ?? 0) + 1);
    expect([...perRequest.values()].filter((n) => n !== 1)).toEqual([]);

    const granted = answers.filter((a): a is BudgetReserved => a.$typeName === 'warden.budget.v1.BudgetReserved');
    const total = granted.reduce((sum, a) => sum + a.reservedTokens, 0);
    expect(total).toBe(TENANT_LIMIT);
    for (const agent of AGENTS) {
      const used = granted.filter((a) => a.request?.agentId === agent).reduce((sum, a) => sum + a.reservedTokens, 0);
      expect(used).toBeLessThanOrEqual(AGENT_LIMIT);
    }
    const refused = answers.filter((a) => a.$typeName === 'warden.budget.v1.BudgetReservationRefused');
    expect(refused.every((a) => (a as BudgetReservationRefused).fromLedger && a.dimension === Dimension.TOKENS)).toBe(
      true,
    );
    // The runs really were spread over the instances that stayed.
    const owners = instances
      .slice(1)
      .map((i) => requests.filter((r) => i.reservations.peek(r.runId) !== undefined).length);
    expect(owners.every((n) => n > 0)).toBe(true);
  });
});
