import {
  create,
  decode,
  encode,
  GateDecidedSchema,
  GateRequested,
  StepCompleted,
  Topic,
  topicName,
  Verdict,
} from '@warden/contracts';
import { ConsumerHandle, KafkaPort, replyTopicSpec } from '@warden/platform';
import { eventually, provisionedPort, TopicRecorder, uniquePrefix } from '@warden/platform/testing';
import { digest, WardenClient } from './client';

describe('SDK against a real broker', () => {
  const prefix = uniquePrefix('sdk');
  let port: KafkaPort;
  let client: WardenClient;
  let responder: ConsumerHandle | undefined;
  let recorder: TopicRecorder;

  beforeAll(async () => {
    port = await provisionedPort(prefix, 3);
    await port.ensureTopics([replyTopicSpec(prefix, 'acme', 'bot')]);
    recorder = await TopicRecorder.start(port, prefix, [Topic.gateRequests, Topic.gateOutcomes]);
    client = await WardenClient.connect({ brokers: [], port, topicPrefix: prefix, clientId: 'sdk-test', agent });
  });
  afterAll(async () => {
    await responder?.stop();
    await client.close();
    await recorder.stop();
    await port.close();
  });

  const agent = { tenantId: 'acme', agentId: 'bot' };
  const input = {
    runId: 'run-1',
    action: { kind: 'tool_call' as const, tool: 'tickets', name: 'read' },
  };

  it('refuses to connect for an agent without a reply topic (not registered)', async () => {
    await expect(
      WardenClient.connect({ brokers: [], port, topicPrefix: prefix, agent: { tenantId: 'acme', agentId: 'nobody' } }),
    ).rejects.toThrow(/no reply topic .*is it registered/);
  });

  it('refuses, without sending, a request for another agent than its own', async () => {
    const result = await client.gate({ ...input, agentId: 'mallory' }, { timeoutMs: 300 });
    expect(result).toMatchObject({ verdict: 'deny', allowed: false, timedOut: false });
    expect(result.reason).toMatch(/speaks for acme\/bot/);
  });

  it('fails closed when no decision arrives before the deadline', async () => {
    const result = await client.gate(input, { timeoutMs: 300 });
    expect(result).toMatchObject({ verdict: 'deny', allowed: false, timedOut: true });
    expect(result.reason).toContain('fail closed');
    // The request itself reached Kafka with its deadline, so the gate will decide it expired.
    const sent = await eventually(() =>
      recorder.events(Topic.gateRequests).find((e) => (e.data as GateRequested).requestId === result.requestId),
    );
    const request = sent.data as GateRequested;
    expect(request.deadlineMs - request.requestedAtMs).toBe(300);
    expect(sent.key).toBe('run-1');
  });

  it('fails closed without sending anything when it cannot obtain its agent token', async () => {
    const unproven = await WardenClient.connect({
      brokers: [],
      port,
      topicPrefix: prefix,
      clientId: 'sdk-no-token',
      agent,
      credentials: { registryUrl: 'http://127.0.0.1:9', agentId: 'bot', clientSecret: 'c1.secret' },
    });
    try {
      const result = await unproven.gate({ ...input, requestId: 'no-token-1' }, { timeoutMs: 300 });
      expect(result).toMatchObject({ verdict: 'deny', allowed: false, timedOut: false, requestId: 'no-token-1' });
      expect(result.reason).toMatch(/^no agent token: .*\(fail closed\)$/);
      await client.gate({ ...input, requestId: 'after-no-token' }, { timeoutMs: 300 });
      const ids = await eventually(() => {
        const seen = recorder.events(Topic.gateRequests).map((e) => (e.data as GateRequested).requestId);
        return seen.includes('after-no-token') && seen;
      });
      expect(ids).not.toContain('no-token-1');
    } finally {
      await unproven.close();
    }
  });

  it('returns the decision published on its reply topic, sending raw arguments with their RFC 8785 digest', async () => {
    responder = await port.consume({
      groupId: `${prefix}responder`,
      topics: [topicName(prefix, Topic.gateRequests)],
      fromBeginning: false,
      commitOffsets: false,
      onBatch: async (_t, _p, records) => {
        for (const record of records) {
          const r = decode(Topic.gateRequests, record).data as GateRequested;
          const decision = create(GateDecidedSchema, {
            decisionId: `d-${r.requestId}`,
            requestId: r.requestId,
            runId: r.runId,
            verdict: Verdict.ALLOW,
            reason: 'ok',
            final: true,
            decisionToken: `token-${r.requestId}`,
            tokenExpiresAtMs: 1234,
            hints: ['use a cheaper model'],
          });
          const wire = encode({
            id: decision.decisionId,
            type: decision.$typeName,
            source: 'test',
            time: Date.now(),
            key: r.runId,
            tenantId: r.tenantId,
            agentId: r.agentId,
            runId: r.runId,
            data: decision,
          });
          await port.publish([{ topic: replyTopicSpec(prefix, r.tenantId, r.agentId).topic, ...wire }]);
        }
        return records.at(-1)?.offset;
      },
    });
    const args = { ticket: 42, apiKey: 'sk-123', nested: { password: 'hunter2', note: 'hi' } };
    const result = await eventually(async () => {
      const r = await client.gate({ ...input, arguments: args }, { timeoutMs: 2000 });
      return r.timedOut ? undefined : r;
    });
    expect(result).toMatchObject({ verdict: 'allow', allowed: true, reason: 'ok', timedOut: false });
    expect(result).toMatchObject({
      decisionToken: `token-${result.requestId}`,
      tokenExpiresAtMs: 1234,
      hints: ['use a cheaper model'],
    });
    const sent = (
      await eventually(() =>
        recorder.events(Topic.gateRequests).find((e) => (e.data as GateRequested).requestId === result.requestId),
      )
    ).data as GateRequested;
    expect(sent.argumentsDigest).toBe(digest(args));
    expect(sent.arguments).toEqual(args);
    expect(sent.redactedArguments).toBeUndefined();
    expect(sent.stepId).toBe(result.requestId);
    expect(sent.idempotencyKey).toBe(`run-1:${result.requestId}`);
  });

  it('reports outcomes on gate.outcomes keyed by run', async () => {
    await client.reportOutcome({
      request: { requestId: 'r-9', runId: 'run-1' },
      status: 'completed',
      actualTokens: 12,
      result: { ok: true },
    });
    const e = await eventually(() =>
      recorder.events(Topic.gateOutcomes).find((x) => (x.data as StepCompleted).requestId === 'r-9'),
    );
    expect(e.key).toBe('run-1');
    expect((e.data as StepCompleted).actualTokens).toBe(12);
    expect((e.data as StepCompleted).resultDigest).toBe(digest({ ok: true }));
    expect((e.data as StepCompleted).tenantId).toBe('acme');
  });
});
