import { createHash, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import {
  ActionKind,
  AgentActivatedSchema,
  AgentCredentialRegisteredSchema,
  AgentProfileSchema,
  AgentRegisteredSchema,
  ApprovalGrantedSchema,
  BudgetReservationRefused,
  BudgetReservationRefusedSchema,
  BudgetReserved,
  BudgetReservedSchema,
  BudgetSettledSchema,
  create,
  decode,
  Envelope,
  evolveActiveSwitches,
  GateDecided,
  GateRequestedSchema,
  jwkThumbprint,
  KeyUse,
  KillSwitchEngagedSchema,
  Message,
  newProofKey,
  replyTopic,
  requestProof,
  RiskClass,
  ScopeSchema,
  SigningKeyRotatedSchema,
  ToolActionSchema,
  ToolContractPublishedSchema,
  ToolContractSchema,
  ToolGrantSchema,
  Topic,
  TopicName,
  Verdict,
  TablePosition,
} from '@warden/contracts';
import { fold } from '@warden/kernel';
import { KafkaPort, RecordIn, replyTopicSpec, sealPrivateKey, ServiceRuntime, SOURCE_HEADER } from '@warden/platform';
import {
  provisionedPort,
  eventually,
  freshDatabase,
  kafkaBrokers,
  publishEvent,
  TopicRecorder,
  uniquePrefix,
} from '@warden/platform/testing';
import {
  COMPLETION_TYPE,
  emptyBundleDirectory,
  emptyGateActivity,
  emptyGateRegistry,
  evolveBundleDirectory,
  evolveGateActivity,
  evolveGateRegistry,
  gate,
  GateCommand,
  GateState,
} from '@warden/policy-domain';
import { readPolicyConfig } from './config';
import { decisionOutputs, decisionSigners, GateTables, reservationOf, viewOf } from './gate.processor';
import { policyService } from './service';

const KEK = randomBytes(32).toString('base64');
const agentKey = generateKeyPairSync('ed25519');
const decisionKey = generateKeyPairSync('ed25519');
const DIGEST = 'sha256:tickets-1';
/** The agent process's key: its token is bound to it and it proves every request. */
const proofKey = newProofKey();
const jwk = (k: { export(o: { format: 'jwk' }): object }) => JSON.stringify(k.export({ format: 'jwk' }));

function agentToken(): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'EdDSA', kid: 'at-1', typ: 'JWT' })}.${b64({
    iss: 'warden-registry',
    aud: 'warden-gate',
    sub: 'bot',
    tenant: 'acme',
    cid: 'cred-1',
    iat: now,
    exp: now + 3600,
    jti: 't-1',
    cnf: { jkt: jwkThumbprint(proofKey.jwk) },
  })}`;
  return `${input}.${sign(null, Buffer.from(input), agentKey.privateKey).toString('base64url')}`;
}

describe('policy gate processor (real Kafka and Postgres)', () => {
  const prefix = uniquePrefix('policy');
  const token = agentToken();
  let db: { url: string; drop(): Promise<void> };
  let port: KafkaPort;
  let recorder: TopicRecorder;
  let runtime: ServiceRuntime | undefined;
  const env = (instance: string) => ({
    KAFKA_BROKERS: kafkaBrokers().join(','),
    DATABASE_URL: db.url,
    WARDEN_TOPIC_PREFIX: prefix,
    WARDEN_INSTANCE_ID: instance,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    WARDEN_PARTITIONS: '3',
    WARDEN_KEY_ENCRYPTION_KEY: KEK,
  });

  const startPolicy = async (instance: string) => {
    const { runtime: rt } = policyService(readPolicyConfig(env(instance)));
    await rt.start();
    runtime = rt;
    return rt;
  };
  const publish = (topic: TopicName, key: string, data: Message) =>
    publishEvent(port, prefix, topic, key, data, { tenantId: 'acme', agentId: 'bot', runId: key, kek: KEK });
  /** A request as the gate's ingress passes it on: defaults applied, digested, with token and proof. */
  const request = (requestId: string, runId: string, action = 'read', idempotencyKey = `${runId}:${requestId}`) => {
    const r = create(GateRequestedSchema, {
      requestId,
      runId,
      stepId: requestId,
      attempt: 1,
      idempotencyKey,
      tenantId: 'acme',
      agentId: 'bot',
      actionKind: ActionKind.TOOL_CALL,
      tool: 'tickets',
      action,
      argumentsDigest: `sha256:${requestId}`,
      requestedAtMs: Date.now(),
      deadlineMs: Date.now() + 60_000,
      agentToken: token,
    });
    r.requestProof = requestProof(r, proofKey);
    return r;
  };
  const replies = () =>
    recorder.records
      .filter((r) => r.topic === replyTopicSpec(prefix, 'acme', 'bot').topic)
      .map((r) => decode(Topic.gateDecisions, r).data as GateDecided);
  const replyFor = (requestId: string, final = true) =>
    eventually(
      () => replies().find((d) => d.requestId === requestId && d.final === final),
      20_000,
      `reply ${requestId}`,
    );
  const reserve = (requestId: string, runId: string, action?: string, idempotencyKey?: string) =>
    publish(
      Topic.budgetReservations,
      runId,
      create(BudgetReservedSchema, {
        reservationId: `res-${requestId}`,
        request: request(requestId, runId, action, idempotencyKey),
        reservedTokens: 5,
      }),
    );
  const decisions = () => recorder.events(Topic.gateDecisions).map((e) => e.data as GateDecided);
  const decisionFor = (requestId: string, final = true) =>
    eventually(
      () => decisions().find((d) => d.requestId === requestId && d.final === final),
      20_000,
      `decision ${requestId}`,
    );

  beforeAll(async () => {
    db = await freshDatabase('policy');
    port = await provisionedPort(prefix);
    // The registry creates an agent's reply topic when it registers it (docs/adr/0070).
    await port.ensureTopics([replyTopicSpec(prefix, 'acme', 'bot')]);
    recorder = await TopicRecorder.start(port, prefix, [
      replyTopic('acme', 'bot') as TopicName,
      Topic.gateDecisions,
      Topic.budgetReservations,
      Topic.approvalEvents,
      Topic.registryEvents,
      Topic.killswitchEvents,
      Topic.policyEvents,
    ]);
    await publish(
      Topic.registryEvents,
      'tool:acme/tickets',
      create(ToolContractPublishedSchema, {
        tenantId: 'acme',
        contract: create(ToolContractSchema, {
          tool: 'tickets',
          version: '1',
          definitionDigest: DIGEST,
          actions: [
            create(ToolActionSchema, { name: 'read', riskClass: RiskClass.LOW }),
            create(ToolActionSchema, { name: 'close', riskClass: RiskClass.MEDIUM, requiresApproval: true }),
          ],
        }),
      }),
    );
    await publish(
      Topic.registryEvents,
      'keys',
      create(SigningKeyRotatedSchema, {
        kid: 'at-1',
        use: KeyUse.AGENT_TOKEN,
        alg: 'EdDSA',
        publicJwk: jwk(agentKey.publicKey),
        activatedAtMs: 1,
      }),
    );
    await publish(
      Topic.registryEvents,
      'keys',
      create(SigningKeyRotatedSchema, {
        kid: 'dt-1',
        use: KeyUse.DECISION_TOKEN,
        alg: 'EdDSA',
        publicJwk: jwk(decisionKey.publicKey),
        sealedPrivateKey: sealPrivateKey(
          decisionKey.privateKey.export({ format: 'jwk' }),
          'dt-1',
          Buffer.from(KEK, 'base64'),
        ),
        activatedAtMs: 1,
      }),
    );
    await publish(
      Topic.registryEvents,
      'bot',
      create(AgentRegisteredSchema, {
        agentId: 'bot',
        tenantId: 'acme',
        version: 1,
        profile: create(AgentProfileSchema, {
          // ADR 0013 level 2: the low-risk read is allowed, the medium-risk close waits for approval.
          autonomyLevel: 2,
          tools: [
            create(ToolGrantSchema, {
              tool: 'tickets',
              actions: ['read', 'close'],
              contractVersion: '1',
              definitionDigest: DIGEST,
            }),
          ],
        }),
      }),
    );
    await publish(
      Topic.registryEvents,
      'bot',
      create(AgentActivatedSchema, { agentId: 'bot', tenantId: 'acme', version: 2 }),
    );
    await publish(
      Topic.registryEvents,
      'bot',
      create(AgentCredentialRegisteredSchema, { agentId: 'bot', tenantId: 'acme', credentialId: 'cred-1' }),
    );
    // A step of run-1 completed before the policy service started: the budget stage accepted its
    // outcome (a settlement), so it is in the table from the start.
    await publish(
      Topic.budgetReservations,
      'run-1',
      create(BudgetSettledSchema, {
        reservationId: 'res-done',
        requestId: 'r-done',
        idempotencyKey: 'run-1:step-done',
        tenantId: 'acme',
        agentId: 'bot',
        runId: 'run-1',
      }),
    );
    await startPolicy('p1');
  });
  afterAll(async () => {
    await runtime?.stop();
    await recorder.stop();
    await port.close();
    await db.drop();
  });

  it('decides from the registry and the reservation, with the versions it used and a verifiable token', async () => {
    await reserve('r-allow', 'run-1');
    const allowed = await decisionFor('r-allow');
    expect(Verdict[allowed.verdict]).toBe('ALLOW');
    expect(allowed.context!.versions!.registryOffset).toBe(6);
    // No credential after the gate: the request of record keeps the token's id, not the token or proof.
    expect(allowed.request).toMatchObject({
      agentToken: '',
      requestProof: '',
      agentTokenId: 't-1',
      credentialId: 'cred-1',
    });
    // The decision token travels only on the agent's reply topic; gate.decisions has its digest.
    expect(allowed.decisionToken).toBe('');
    const reply = await replyFor('r-allow');
    expect(createHash('sha256').update(reply.decisionToken).digest('hex')).toBe(allowed.decisionTokenDigest);
    const [h, p, s] = reply.decisionToken.split('.');
    expect(verify(null, Buffer.from(`${h}.${p}`), decisionKey.publicKey, Buffer.from(s, 'base64url'))).toBe(true);
    expect(JSON.parse(Buffer.from(p, 'base64url').toString())).toMatchObject({
      aud: 'tickets',
      act: 'read',
      rid: 'r-allow',
    });
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
    await eventually(() => decisions().filter((d) => d.requestId === 'r-allow').length === 2);
    const both = decisions().filter((d) => d.requestId === 'r-allow');
    expect(both[1]).toEqual(both[0]);
  });

  it('answers a retry of a completed idempotency key with already_completed and the completing request', async () => {
    await reserve('r-retry', 'run-1', 'read', 'run-1:step-done');
    const retried = await decisionFor('r-retry');
    expect(Verdict[retried.verdict]).toBe('ALREADY_COMPLETED');
    expect(retried.completedByRequestId).toBe('r-done');
  });

  it('emits the final decision for a pending request when its approval is granted', async () => {
    await reserve('r-close', 'run-1', 'close');
    const pending = await decisionFor('r-close', false);
    expect(Verdict[pending.verdict]).toBe('PENDING_APPROVAL');
    // The agent's autonomy level asks too (ADR 0013), beside the contract, and the decision says which level.
    expect(pending.context!.evaluations.find((e) => e.policyId === 'warden.autonomy')).toMatchObject({
      result: 'require_approval',
      reason: 'autonomy level 2 (act within low risk): a medium-risk tool call needs approval',
    });
    expect(pending.reason).toBe(
      'approval required: autonomy level 2 (act within low risk): a medium-risk tool call needs approval; tickets.close requires approval',
    );
    await publish(
      Topic.approvalEvents,
      'run-1',
      create(ApprovalGrantedSchema, {
        taskId: 'task-1',
        requestId: 'r-close',
        runId: 'run-1',
        argumentsDigest: 'sha256:r-close',
        approvedBy: 'carol',
        approvers: ['carol'],
        expiresAtMs: Date.now() + 60_000,
      }),
    );
    const final = await decisionFor('r-close');
    expect(Verdict[final.verdict]).toBe('ALLOW');
    expect(final.context!.approval).toMatchObject({ taskId: 'task-1', approvedBy: 'carol' });
    expect(final.decisionTokenDigest).not.toBe('');
    expect((await replyFor('r-close')).decisionToken).not.toBe('');
  });

  it('replays: re-deciding each recorded input on state rebuilt from Kafka reproduces every decision, tokens included', async () => {
    const byPosition = new Map<string, RecordIn>();
    for (const r of [...recorder.on(Topic.budgetReservations), ...recorder.on(Topic.approvalEvents)]) {
      byPosition.set(`${r.topic}:${r.partition}:${r.offset}`, r);
    }
    // The events a decision's positions name (the next offset per partition of each table's topic).
    const upTo = (topic: TopicName, positions: readonly TablePosition[]): Envelope[] => {
      const next = positions.find((p) => p.topic === topic)?.nextOffsets ?? [];
      return recorder
        .on(topic)
        .filter((r) => Number(r.offset) < (next[r.partition] ?? 0))
        .map((r) => decode(topic, r));
    };
    // The activity records only a count: the first n events of its topics in recorded order (here
    // every event that matters was in Kafka before the service started, so the prefix holds them).
    const firstN = (topics: TopicName[], n: number): Envelope[] =>
      topics
        .flatMap((t) => recorder.on(t).map((r) => decode(t, r)))
        .filter((e) => !e.type.startsWith('warden.budget.') || e.type === COMPLETION_TYPE)
        .slice(0, n);
    const signerOf = decisionSigners(KEK);
    const states = new Map<string, GateState>();
    const recorded = recorder.on(Topic.gateDecisions);
    expect(recorded.length).toBe(7);
    for (const record of recorded) {
      const original = decode(Topic.gateDecisions, record).data as GateDecided;
      const versions = original.context!.versions!;
      const at = versions.positions;
      const table = <S>(state: S, version = 0, topic?: TopicName) =>
        ({ state, version, positions: at.filter((p) => p.topic === topic) }) as never;
      const tables: GateTables = {
        registry: table(
          fold(evolveGateRegistry, emptyGateRegistry(), upTo(Topic.registryEvents, at)),
          versions.registryOffset,
          Topic.registryEvents,
        ),
        switches: table(
          fold(evolveActiveSwitches, new Map(), upTo(Topic.killswitchEvents, at)),
          versions.killswitchOffset,
          Topic.killswitchEvents,
        ),
        bundles: table(
          fold(evolveBundleDirectory, emptyBundleDirectory(), upTo(Topic.policyEvents, at)),
          versions.bundlesOffset,
          Topic.policyEvents,
        ),
        activity: table(
          fold(
            evolveGateActivity,
            emptyGateActivity(86_400_000),
            firstN([Topic.budgetReservations, Topic.gateDecisions, Topic.approvalEvents], versions.activityOffset),
          ),
          versions.activityOffset,
        ),
      };
      const view = viewOf(tables, signerOf, { decisionTokenTtlMs: 60_000, agentTokens: 'required' });
      const input = decode(
        record.headers[SOURCE_HEADER]!.split(':')[0].slice(prefix.length) as TopicName,
        byPosition.get(record.headers[SOURCE_HEADER]!)!,
      );
      const common = { view, decisionId: original.decisionId, now: original.decidedAtMs };
      const command: GateCommand =
        input.data.$typeName === ApprovalGrantedSchema.typeName
          ? { type: 'ResolveApproval', resolution: input.data as never, ...common }
          : {
              type: 'DecideGate',
              request: (input.data as BudgetReserved).request!,
              reservation: reservationOf(input.data as BudgetReserved | BudgetReservationRefused),
              ...common,
            };
      const state = states.get(original.runId) ?? gate.initialState;
      const [again] = gate.decide(command, state);
      // As published: the token replaced by its digest (the same token, Ed25519 being deterministic).
      expect(decisionOutputs(again, prefix, view.registry, view.signer).event).toEqual(original);
      states.set(original.runId, gate.evolve(state, again));
    }
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
