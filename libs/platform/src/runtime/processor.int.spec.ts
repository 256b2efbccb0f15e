import { fromBinary } from '@bufbuild/protobuf';
import { BudgetReservedSchema, create, GateRequestedSchema, Topic, topicName } from '@warden/contracts';
import { BudgetReserved, GateRequested } from '@warden/contracts';
import { Decider } from '@warden/kernel';
import { DLQ } from './dead-letter';
import { Processor, ProcessorDefinition } from './processor';
import { SOURCE_HEADER } from './publish';
import { Metrics } from '../observability/metrics';
import { KafkaPort } from '../kafka/port';
import { eventually, provisionedPort, publishEvent, quietLogger, TopicRecorder, uniquePrefix } from '../testing/infra';

// A toy decider: counts the tokens requested per run, refusing nothing.
type Cmd = { request: GateRequested; reservationId: string; now: number };
type State = { readonly used: number; readonly seen: ReadonlySet<string> };
const counter: Decider<Cmd, State, BudgetReserved> = {
  initialState: { used: 0, seen: new Set() },
  decide: (cmd, state) =>
    state.seen.has(cmd.request.requestId)
      ? []
      : [
          create(BudgetReservedSchema, {
            reservationId: cmd.reservationId,
            request: cmd.request,
            reservedTokens: cmd.request.estimatedTokens,
            runTokensUsed: state.used + cmd.request.estimatedTokens,
            reservedAtMs: cmd.now,
          }),
        ],
  evolve: (state, e) =>
    state.seen.has(e.request!.requestId)
      ? state
      : { used: e.runTokensUsed, seen: new Set([...state.seen, e.request!.requestId]) },
};

const definition = (name: string): ProcessorDefinition<Cmd, State, BudgetReserved> => ({
  name,
  inputs: [Topic.gateRequests],
  outputs: [Topic.budgetReservations],
  decider: counter,
  command: (input, ctx) => ({ request: input.data as GateRequested, reservationId: ctx.id(), now: ctx.now }),
  route: (e) => ({
    topic: Topic.budgetReservations,
    key: e.request!.runId,
    tenantId: e.request!.tenantId,
    agentId: e.request!.agentId,
    runId: e.request!.runId,
  }),
});

function request(runId: string, n: number, tokens: number): GateRequested {
  return create(GateRequestedSchema, {
    requestId: `${runId}-r${n}`,
    runId,
    tenantId: 't1',
    agentId: 'a1',
    estimatedTokens: tokens,
  });
}

function publishRequest(port: KafkaPort, prefix: string, r: GateRequested): Promise<void> {
  return publishEvent(port, prefix, Topic.gateRequests, r.runId, r, {
    tenantId: r.tenantId,
    agentId: r.agentId,
    runId: r.runId,
  });
}

describe('processor runtime on a real broker', () => {
  const prefix = uniquePrefix('processor');
  let port: KafkaPort;
  let recorder: TopicRecorder;
  const processors: Processor<Cmd, State, BudgetReserved>[] = [];
  const start = async (name: string) => {
    const p = new Processor(definition(name), {
      port,
      prefix,
      service: 'test',
      logger: quietLogger(),
      metrics: new Metrics('test'),
      partitionsConcurrency: 3,
    });
    processors.push(p);
    await p.start();
    return p;
  };

  beforeAll(async () => {
    port = await provisionedPort(prefix, 3);
    recorder = await TopicRecorder.start(port, prefix, [Topic.budgetReservations, Topic.deadLetter]);
  });
  afterAll(async () => {
    for (const p of processors) await p.stop();
    await recorder.stop();
    await port.close();
  });

  it('folds state per stream, publishes on the input partition and records the source', async () => {
    const p = await start('counter');
    await publishRequest(port, prefix, request('run-a', 1, 10));
    await publishRequest(port, prefix, request('run-a', 2, 5));
    await publishRequest(port, prefix, request('run-b', 1, 7));
    const out = await eventually(
      () => recorder.on(Topic.budgetReservations).length >= 3 && recorder.events(Topic.budgetReservations),
    );
    const byRun = (run: string) =>
      out
        .filter((e) => (e.data as BudgetReserved).request!.runId === run)
        .map((e) => (e.data as BudgetReserved).runTokensUsed);
    expect(byRun('run-a')).toEqual([10, 15]);
    expect(byRun('run-b')).toEqual([7]);
    for (const r of recorder.on(Topic.budgetReservations)) {
      const [, partition] = /:(\d+):\d+$/.exec(r.headers[SOURCE_HEADER])!;
      expect(Number(partition)).toBe(r.partition);
    }
    expect(p.peek('run-a')?.used).toBe(15);
    await p.stop();
  });

  it('dead-letters garbage and unknown types with the reason and keeps the partition moving', async () => {
    const p = await start('counter');
    const topic = topicName(prefix, Topic.gateRequests);
    await port.publish([
      { topic, key: 'run-a', value: Buffer.from('garbage \x00\xff'), headers: {}, partition: 0 },
      {
        topic,
        key: 'run-a',
        value: Buffer.from([1, 2, 3]),
        headers: { ce_specversion: '1.0', ce_id: 'x', ce_source: 't', ce_type: 'warden.nope.v1.Unknown' },
        partition: 0,
      },
      {
        topic,
        key: 'run-a',
        value: Buffer.from([0xff, 0xff, 0xff]),
        headers: { ce_specversion: '1.0', ce_id: 'y', ce_source: 't', ce_type: 'warden.gate.v1.GateRequested' },
        partition: 0,
      },
    ]);
    await publishRequest(port, prefix, request('run-a', 3, 1));
    const dlq = await eventually(() => recorder.on(Topic.deadLetter).length >= 3 && recorder.on(Topic.deadLetter));
    expect(dlq.map((r) => r.headers[DLQ.code]).sort()).toEqual(['missing_header', 'undecodable_data', 'unknown_type']);
    for (const r of dlq) {
      expect(r.headers[DLQ.reason]).toBeTruthy();
      expect(r.headers[DLQ.source]).toMatch(new RegExp(`^${topic.replace(/\./g, '\\.')}:0:\\d+$`));
      expect(r.headers[DLQ.consumer]).toBe('counter');
    }
    expect(dlq.find((r) => r.headers[DLQ.code] === 'missing_header')!.value!.toString()).toBe('garbage \x00\xff');
    // The valid request after the garbage was handled, with state rebuilt from the changelog (15 + 1).
    await eventually(() =>
      recorder.events(Topic.budgetReservations).some((e) => (e.data as BudgetReserved).runTokensUsed === 16),
    );
    await p.stop();
  });

  it('rebuilds state from the changelog and never re-decides an input it already reflected', async () => {
    // A fresh consumer group is redelivered every input from offset 0, as after lost commits.
    // Its state is rebuilt from the changelog, whose source headers mark all of them handled.
    const before = recorder.on(Topic.budgetReservations).length;
    const p = await start('counter-redelivered');
    await publishRequest(port, prefix, request('run-b', 2, 3));
    await eventually(() => recorder.on(Topic.budgetReservations).length > before, 20_000, 'new event');
    await new Promise((r) => setTimeout(r, 1000));
    const fresh = recorder
      .on(Topic.budgetReservations)
      .slice(before)
      .map((r) => decodeReservation(r.value!));
    expect(fresh.map((e) => [e.request!.requestId, e.runTokensUsed])).toEqual([['run-b-r2', 10]]);
    expect(p.peek('run-b')?.used).toBe(10);
  });
});

function decodeReservation(value: Buffer): BudgetReserved {
  return fromBinary(BudgetReservedSchema, value);
}
