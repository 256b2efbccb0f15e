import {
  ApprovalDenied,
  ApprovalTaskOpened,
  approvalTaskId,
  create,
  DecisionContextSchema,
  EvaluationSchema,
  GateDecidedSchema,
  GateRequestedSchema,
  KillSwitchEngagedSchema,
  Message,
  RiskClass,
  ScopeSchema,
  Topic,
  TopicName,
  Verdict,
} from '@warden/contracts';
import {
  createServiceRuntime,
  DEV_KEY_ENCRYPTION_KEY,
  KafkaPort,
  ServiceRuntime,
  SOURCE_HEADER,
} from '@warden/platform';
import {
  eventually,
  kafkaBrokers,
  provisionedPort,
  publishEvent,
  TopicRecorder,
  uniquePrefix,
} from '@warden/platform/testing';
import { ApprovalTasksWiring, wireApprovalTasks } from './approval-tasks.processor';
import { readApprovalConfig } from './config';

describe('approval-tasks processor (real Kafka)', () => {
  const prefix = uniquePrefix('approval-tasks');
  let port: KafkaPort;
  let recorder: TopicRecorder;
  const runtimes: ServiceRuntime[] = [];
  const tables: ApprovalTasksWiring['switches'][] = [];

  const start = async (instance: string) => {
    const config = readApprovalConfig({
      KAFKA_BROKERS: kafkaBrokers().join(','),
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_INSTANCE_ID: instance,
      WARDEN_PARTITIONS: '3',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
      WARDEN_KEY_ENCRYPTION_KEY: DEV_KEY_ENCRYPTION_KEY,
    });
    const runtime = createServiceRuntime('approval', config);
    const wiring = wireApprovalTasks(runtime, config);
    await runtime.start();
    runtimes.push(runtime);
    tables.push(wiring.switches);
  };
  const publish = (topic: TopicName, key: string, data: Message, ids = { tenantId: 'acme', agentId: 'bot' }) =>
    publishEvent(port, prefix, topic, key, data, { ...ids, runId: topic === Topic.gateDecisions ? key : '' });
  const decision = (requestId: string, runId: string, verdict = Verdict.PENDING_APPROVAL) =>
    create(GateDecidedSchema, {
      decisionId: `d-${requestId}-${verdict}`,
      requestId,
      tenantId: 'acme',
      agentId: 'bot',
      runId,
      verdict,
      reason: verdict === Verdict.PENDING_APPROVAL ? 'a human must approve' : 'kill switch engaged',
      decidedAtMs: Date.now(),
      request: create(GateRequestedSchema, {
        requestId,
        runId,
        tenantId: 'acme',
        agentId: 'bot',
        tool: 'payments',
        action: 'transfer',
        agentToken: 'secret',
      }),
      context: create(DecisionContextSchema, {
        riskClass: RiskClass.HIGH,
        riskScore: 70,
        evaluations: [create(EvaluationSchema, { policyId: 'acme.pay', result: 'require_approval', reason: 'big' })],
      }),
    });
  const approvalEvents = <T>(type: string) =>
    recorder
      .events(Topic.approvalEvents)
      .filter((e) => e.type === type)
      .map((e) => e.data as T);
  const opened = (requestId: string) =>
    approvalEvents<ApprovalTaskOpened>('warden.approval.v1.ApprovalTaskOpened').filter(
      (e) => e.requestId === requestId,
    );

  beforeAll(async () => {
    port = await provisionedPort(prefix, 3);
    recorder = await TopicRecorder.start(port, prefix, [Topic.approvalEvents, Topic.deadLetter]);
  });
  afterAll(async () => {
    for (const runtime of runtimes) await runtime.stop();
    await recorder.stop();
    await port.close();
  });

  it('opens one task per pending request, keyed by run id on the input partition, without the agent token', async () => {
    await start('approval-a');
    await publish(Topic.gateDecisions, 'run-1', decision('r1', 'run-1'));
    await publish(Topic.gateDecisions, 'run-1', decision('r1', 'run-1'));
    await publish(Topic.gateDecisions, 'run-1', decision('r0', 'run-1', Verdict.ALLOW));
    const [task] = await eventually(() => opened('r1').length > 0 && opened('r1'), 20_000, 'task opened');
    expect(task).toMatchObject({
      // The id the pending decision names: a pure function of tenant, run and request id.
      taskId: approvalTaskId('acme', 'run-1', 'r1'),
      decisionId: `d-r1-${Verdict.PENDING_APPROVAL}`,
      riskClass: RiskClass.HIGH,
      riskScore: 70,
      reasons: ['acme.pay: big', 'a human must approve'],
      request: { requestId: 'r1', tool: 'payments', agentToken: '' },
    });
    expect(task.expiresAtMs - task.openedAtMs).toBe(15 * 60_000);
    const record = recorder
      .on(Topic.approvalEvents)
      .find((r) => r.headers.ce_type === 'warden.approval.v1.ApprovalTaskOpened')!;
    expect(record.key).toBe('run-1');
    expect(record.headers.ce_runid).toBe('run-1');
    expect(Number(/:(\d+):\d+$/.exec(record.headers[SOURCE_HEADER])![1])).toBe(record.partition);
    // Every input after the duplicate has been handled once the allow decision is: still one task.
    await publish(Topic.gateDecisions, 'run-1', decision('r-marker', 'run-1'));
    await eventually(() => opened('r-marker').length > 0, 20_000, 'marker task');
    expect(opened('r1')).toHaveLength(1);
  });

  it("denies a run's open tasks once a kill switch covers it and a decision for the run arrives", async () => {
    // A second instance joins: the partitions are shared and state is rebuilt from approval.events.
    await start('approval-b');
    await publish(
      Topic.killswitchEvents,
      'ks-run-1',
      create(KillSwitchEngagedSchema, {
        switchId: 'ks-run-1',
        scope: create(ScopeSchema, { runId: 'run-1' }),
        reason: 'runaway payments',
        engagedBy: 'sam',
        engagedAtMs: Date.now(),
      }),
    );
    await eventually(() => tables.every((t) => t.state.has('ks-run-1')), 20_000, 'switch in every table');
    await publish(Topic.gateDecisions, 'run-1', decision('r2', 'run-1', Verdict.DENY));
    await publish(Topic.gateDecisions, 'run-2', decision('r3', 'run-2'));
    const denied = await eventually(
      () => {
        const d = approvalEvents<ApprovalDenied>('warden.approval.v1.ApprovalDenied');
        return d.length >= 2 && d;
      },
      20_000,
      'both tasks of run-1 denied',
    );
    const taskOf = (requestId: string) => opened(requestId)[0].taskId;
    expect(denied.map((d) => d.taskId).sort()).toEqual([taskOf('r1'), taskOf('r-marker')].sort());
    expect(denied[0]).toMatchObject({
      runId: 'run-1',
      deniedBy: 'killswitch:ks-run-1',
      comment: 'kill switch ks-run-1 (runId=run-1) engaged by sam: runaway payments',
    });
    await eventually(() => opened('r3').length > 0, 20_000, 'task of the other run opened');
    const deniedNow = approvalEvents<ApprovalDenied>('warden.approval.v1.ApprovalDenied');
    expect(deniedNow.map((d) => d.requestId).sort()).toEqual(['r-marker', 'r1']);
    expect(recorder.on(Topic.deadLetter)).toHaveLength(0);
  });
});
