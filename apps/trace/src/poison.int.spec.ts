import { StructSchema, ValueSchema } from '@bufbuild/protobuf/wkt';
import {
  BudgetReserved,
  BudgetSettled,
  CE,
  create,
  GateDecided,
  GateRequestedSchema,
  KillSwitchEngagedSchema,
  Topic,
  TOPIC_EVENTS,
  topicName,
  TopicName,
} from '@warden/contracts';
import { DLQ, RecordOut } from '@warden/platform';
import { eventually, TopicRecorder } from '@warden/platform/testing';
import { gateChain, Identity, TraceHarness } from './testing/trace.harness';

/** ARCHITECTURE invariant 7: bad input never stops a projection; it goes to the dead-letter topic with the reason. */
describe('trace consumers dead-letter bad input and keep going (real Kafka and Postgres)', () => {
  let trace: TraceHarness;
  let recorder: TopicRecorder;
  const auditor: Identity = { subject: 'ann', roles: 'auditor', tenant: 'acme' };
  const run = { tenantId: 'acme', agentId: 'bot', runId: 'run-poison' };
  const inputs: Record<string, readonly TopicName[]> = {
    'projection.requests': [Topic.budgetReservations, Topic.gateDecisions, Topic.approvalEvents],
    'projection.runs': [Topic.gateDecisions, Topic.budgetReservations, Topic.killswitchEvents],
    'projection.audit': [Topic.traceAudit],
    'projection.kill_switches': [Topic.killswitchEvents],
    'projection.holds': [Topic.traceHolds],
    'trace-audit': [Topic.traceAuditQueue],
  };
  const misplaced = (topic: TopicName) =>
    topic === Topic.killswitchEvents ? GateRequestedSchema.typeName : KillSwitchEngagedSchema.typeName;
  const headers = (type: string) => ({
    [CE.specversion]: '1.0',
    [CE.id]: `poison-${type}`,
    [CE.source]: 'test',
    [CE.type]: type,
    [CE.time]: new Date().toISOString(),
    [CE.contentType]: 'application/protobuf',
  });
  const poison = (topic: TopicName): RecordOut[] => [
    { topic: topicName(trace.prefix, topic), key: run.runId, value: Buffer.from('not an event at all'), headers: {} },
    {
      topic: topicName(trace.prefix, topic),
      key: run.runId,
      // Field 1 with wire type 7, which does not exist: undecodable whatever the type.
      value: Buffer.from([0x0f, 0xff, 0xff]),
      headers: headers(TOPIC_EVENTS[topic][0].typeName),
    },
    {
      topic: topicName(trace.prefix, topic),
      key: run.runId,
      value: Buffer.from([]),
      headers: headers('warden.nothing.v1.Unknown'),
    },
    {
      topic: topicName(trace.prefix, topic),
      key: run.runId,
      value: Buffer.from([]),
      headers: headers(misplaced(topic)),
    },
  ];

  beforeAll(async () => {
    trace = await TraceHarness.start('trace-poison');
    recorder = await TopicRecorder.start(trace.port, trace.prefix, [Topic.deadLetter]);
  });
  afterAll(async () => {
    await recorder.stop();
    await trace.stop();
  });

  it('dead-letters garbage, unknown and misplaced types on every input topic, with the reason, then projects valid events', async () => {
    await trace.port.publish([...new Set(Object.values(inputs).flat())].flatMap(poison));
    await trace.publish(gateChain(run, 'req-after-poison', Date.UTC(2025, 5, 1), 'allow'));

    const expected = Object.entries(inputs).flatMap(([consumer, topics]) =>
      topics.flatMap((topic) =>
        ['missing_header', 'undecodable_data', 'unknown_type', 'type_not_allowed_on_topic'].map(
          (code) => `${consumer} ${topic} ${code}`,
        ),
      ),
    );
    const seen = () =>
      recorder.on(Topic.deadLetter).map((r) => {
        const source = r.headers[DLQ.source].split(':')[0].slice(trace.prefix.length);
        return `${r.headers[DLQ.consumer]} ${source} ${r.headers[DLQ.code]}`;
      });
    await eventually(() => seen().length >= expected.length, 30_000, 'the dead letters');
    expect(seen().sort()).toEqual(expected.sort());
    for (const record of recorder.on(Topic.deadLetter)) {
      expect(record.headers[DLQ.reason]).toEqual(expect.any(String));
      expect(record.headers[DLQ.reason].length).toBeGreaterThan(0);
    }
    expect(
      recorder.on(Topic.deadLetter).find((r) => r.headers[DLQ.code] === 'unknown_type')!.headers[DLQ.reason],
    ).toContain('warden.nothing.v1.Unknown');

    const row = await eventually(async () => {
      const r = await trace.call('GET', '/requests/req-after-poison', auditor);
      return r.status === 200 && r.body.reservationStatus === 'settled' && r.body.outcomeStatus ? r.body : undefined;
    });
    expect(row).toMatchObject({ verdict: 'allow', outcomeStatus: 'completed' });
    const summary = await eventually(async () => {
      const r = await trace.call('GET', '/runs/run-poison', auditor);
      return r.status === 200 && r.body.tokens === 7 ? r.body : undefined;
    });
    expect(summary).toMatchObject({ requests: 1, allowed: 1 });
    await trace.caughtUp();
    expect(trace.runtime.live()).toBe(true);
  });

  it('projects events that decode but carry what Postgres cannot store (NUL, NaN in a Struct, huge numbers)', async () => {
    const t = Date.UTC(2025, 5, 2);
    const [reserved, decided, settled] = gateChain(run, 'req-odd', t, 'allow');
    const nan = create(StructSchema, {
      fields: { x: create(ValueSchema, { kind: { case: 'numberValue', value: NaN } }) },
    });
    const answer = reserved.data as BudgetReserved;
    const odd = {
      ...answer,
      request: { ...answer.request!, tool: 'nul\u0000tool', requestedAtMs: 1e300, redactedArguments: nan },
    };
    const nul = { ...(decided.data as GateDecided), reason: 'nul \u0000 reason' };
    const settlement = settled.data as BudgetSettled;
    const huge = { ...settlement, actualTokens: 1e300, outcome: { ...settlement.outcome!, actualTokens: 1e300 } };
    await trace.publish([
      { ...reserved, data: odd },
      { ...decided, data: nul },
      { ...settled, data: huge },
    ]);
    const row = await eventually(async () => {
      const r = await trace.call('GET', '/requests/req-odd', auditor);
      const complete = r.body.verdict && r.body.outcomeStatus && r.body.requestSource === 'budget.reservations';
      return r.status === 200 && complete ? r.body : undefined;
    });
    expect(row).toMatchObject({
      tool: 'nul\ufffdtool',
      requestedAt: null,
      reason: 'nul \ufffd reason',
      actualTokens: Number.MAX_SAFE_INTEGER,
      request: { unrepresentable: expect.stringContaining('NaN') },
    });
    const summary = await eventually(async () => {
      const r = await trace.call('GET', '/runs/run-poison', auditor);
      return r.status === 200 && r.body.requests === 2 ? r.body : undefined;
    });
    // The run summary read the huge settlement too, capped per request: req-after-poison's 7 and the cap.
    expect(summary).toMatchObject({ allowed: 2, tokens: 7 + Number.MAX_SAFE_INTEGER });
    await trace.caughtUp();
    expect(trace.runtime.live()).toBe(true);
  });
});
