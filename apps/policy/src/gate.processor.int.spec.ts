import {
  AgentActivatedSchema,
  AgentProfileSchema,
  AgentRegisteredSchema,
  BudgetReservationRefusedSchema,
  BudgetReservedSchema,
  create,
  GateDecided,
  GateRequestedSchema,
  KillSwitchEngagedSchema,
  Message,
  ScopeSchema,
  ToolGrantSchema,
  Topic,
  TopicName,
  ActionKind,
  Verdict,
} from '@warden/contracts';
import { KafkaPort, ServiceRuntime } from '@warden/platform';
import {
  connectedPort,
  eventually,
  freshDatabase,
  kafkaBrokers,
  publishEvent,
  TopicRecorder,
  uniquePrefix,
} from '@warden/platform/testing';
import { readPolicyConfig } from './config';
import { policyService } from './service';

describe('policy gate processor (real Kafka and Postgres)', () => {
  const prefix = uniquePrefix('policy');
  let db: { url: string; drop(): Promise<void> };
  let port: KafkaPort;
  let recorder: TopicRecorder;
  let runtime: ServiceRuntime | undefined;

  const startPolicy = async (instance: string) => {
    const config = readPolicyConfig({
      KAFKA_BROKERS: kafkaBrokers().join(','),
      DATABASE_URL: db.url,
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_INSTANCE_ID: instance,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
      WARDEN_PARTITIONS: '3',
    });
    const { runtime: rt } = policyService(config);
    await rt.start();
    runtime = rt;
    return rt;
  };
  const publish = (topic: TopicName, key: string, data: Message) =>
    publishEvent(port, prefix, topic, key, data, { tenantId: 'acme', agentId: 'bot', runId: key });
  const request = (requestId: string, runId: string, action = 'read') =>
    create(GateRequestedSchema, {
      requestId,
      runId,
      tenantId: 'acme',
      agentId: 'bot',
      actionKind: ActionKind.TOOL_CALL,
      tool: 'tickets',
      action,
      deadlineMs: Date.now() + 60_000,
    });
  const reserve = (requestId: string, runId: string, action?: string) =>
    publish(
      Topic.budgetReservations,
      runId,
      create(BudgetReservedSchema, {
        reservationId: `res-${requestId}`,
        request: request(requestId, runId, action),
        reservedTokens: 5,
      }),
    );
  const decisionFor = (requestId: string) =>
    eventually(
      () =>
        recorder
          .events(Topic.gateDecisions)
          .map((e) => e.data as GateDecided)
          .find((d) => d.requestId === requestId),
      20_000,
      `decision ${requestId}`,
    );

  beforeAll(async () => {
    db = await freshDatabase('policy');
    port = await connectedPort('policy-test');
    await startPolicy('p1');
    recorder = await TopicRecorder.start(port, prefix, [Topic.gateDecisions]);
    await publish(
      Topic.registryEvents,
      'bot',
      create(AgentRegisteredSchema, {
        agentId: 'bot',
        tenantId: 'acme',
        version: 1,
        profile: create(AgentProfileSchema, {
          tools: [create(ToolGrantSchema, { tool: 'tickets', actions: ['read'] })],
        }),
      }),
    );
    await publish(
      Topic.registryEvents,
      'bot',
      create(AgentActivatedSchema, { agentId: 'bot', tenantId: 'acme', version: 2 }),
    );
  });
  afterAll(async () => {
    await runtime?.stop();
    await recorder.stop();
    await port.close();
    await db.drop();
  });

  it('decides from the registry and the reservation, with the versions it used', async () => {
    await eventually(
      async () => {
        await reserve(`probe-${Math.random()}`, 'run-probe');
        return recorder.events(Topic.gateDecisions).some((e) => (e.data as GateDecided).verdict === Verdict.ALLOW);
      },
      20_000,
      'the registry table',
    );
    await reserve('r-allow', 'run-1');
    const allowed = await decisionFor('r-allow');
    expect(Verdict[allowed.verdict]).toBe('ALLOW');
    expect(allowed.context!.versions!.registryOffset).toBe(2);
    await reserve('r-write', 'run-1', 'write');
    expect(Verdict[(await decisionFor('r-write')).verdict]).toBe('DENY');
    await publish(
      Topic.budgetReservations,
      'run-1',
      create(BudgetReservationRefusedSchema, {
        reservationId: 'res-x',
        request: request('r-refused', 'run-1'),
        reason: 'run token budget exhausted',
      }),
    );
    const refused = await decisionFor('r-refused');
    expect(refused.reason).toBe('budget refused: run token budget exhausted');
  });

  it('answers a duplicate request id with the same decision', async () => {
    await reserve('r-allow', 'run-1');
    await eventually(
      () =>
        recorder.events(Topic.gateDecisions).filter((e) => (e.data as GateDecided).requestId === 'r-allow').length ===
        2,
    );
    const both = recorder
      .events(Topic.gateDecisions)
      .map((e) => e.data as GateDecided)
      .filter((d) => d.requestId === 'r-allow');
    expect(both[1]).toEqual(both[0]);
  });

  it('a kill switch engaged while policy is down holds for the first request after restart', async () => {
    await runtime!.stop();
    runtime = undefined;
    await publish(
      Topic.killswitchEvents,
      'ks-1',
      create(KillSwitchEngagedSchema, {
        switchId: 'ks-1',
        scope: create(ScopeSchema, { tenantId: 'acme' }),
        reason: 'incident',
        engagedBy: 'sam',
        engagedAtMs: Date.now(),
      }),
    );
    await reserve('r-after-restart', 'run-2');
    await startPolicy('p2');
    const d = await decisionFor('r-after-restart');
    expect(Verdict[d.verdict]).toBe('DENY');
    expect(d.context!.killSwitchIds).toEqual(['ks-1']);
    // The decisions projection in Postgres got every decision exactly once per request id.
    const rows: { id: string; verdict: string }[] = await eventually(async () => {
      const r = await runtime!.db.query(`SELECT id, verdict FROM policy.decisions ORDER BY id`);
      return r.some((x: { id: string }) => x.id === 'r-after-restart') && r;
    });
    expect(rows.filter((r) => r.id === 'r-allow')).toEqual([{ id: 'r-allow', verdict: 'allow' }]);
  });
});
