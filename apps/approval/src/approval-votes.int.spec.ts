import { JsonObject } from '@bufbuild/protobuf';
import {
  AgentProfileSchema,
  AgentRegisteredSchema,
  ApprovalGranted,
  ApprovalNotificationRequested,
  ApprovalRefSchema,
  ChangeSchema,
  create,
  DecisionContextSchema,
  GateDecidedSchema,
  GateRequestedSchema,
  KillSwitchEngagedSchema,
  Message,
  OwnerSchema,
  RiskClass,
  ScopeSchema,
  StandingApprovalExhausted,
  StateVersionsSchema,
  ToolActionSchema,
  ToolContractPublishedSchema,
  ToolContractSchema,
  ToolGrantSchema,
  Topic,
  TopicName,
  topicName,
  Verdict,
} from '@warden/contracts';
import { callerHeaders, DLQ, KafkaPort } from '@warden/platform';
import {
  eventually,
  freshDatabase,
  InProcessService,
  provisionedPort,
  publishEvent,
  startInProcess,
  TopicRecorder,
  uniquePrefix,
} from '@warden/platform/testing';
import { readApprovalConfig } from './config';
import { approvalService } from './service';

type Row = Record<string, unknown>;

describe('approval votes, kill switches and standing approvals over HTTP (real Kafka and Postgres)', () => {
  const prefix = uniquePrefix('approval-votes');
  let db: { url: string; drop(): Promise<void> };
  let port: KafkaPort;
  let recorder: TopicRecorder;
  let approval: InProcessService;

  const publish = (topic: TopicName, key: string, data: Message, runId = '') =>
    publishEvent(port, prefix, topic, key, data, { tenantId: 'acme', agentId: 'payroll-bot', runId });
  const pending = (
    requestId: string,
    runId: string,
    riskClass: RiskClass,
    args: JsonObject = {},
    { agentId = 'payroll-bot', onBehalfOf = 'rita' } = {},
  ) =>
    publish(
      Topic.gateDecisions,
      runId,
      create(GateDecidedSchema, {
        decisionId: `d-${requestId}`,
        requestId,
        tenantId: 'acme',
        agentId,
        runId,
        verdict: Verdict.PENDING_APPROVAL,
        reason: 'a human must approve',
        decidedAtMs: Date.now(),
        request: create(GateRequestedSchema, {
          requestId,
          runId,
          tenantId: 'acme',
          agentId,
          tool: 'payments',
          action: 'transfer',
          argumentsDigest: `sha256:${requestId}`,
          redactedArguments: args,
          onBehalfOf,
          agentToken: 'secret',
        }),
        context: create(DecisionContextSchema, {
          riskClass,
          riskScore: 90,
          versions: create(StateVersionsSchema, { policyBundleVersion: 'acme@7' }),
        }),
      }),
      runId,
    );
  const call = async (
    method: string,
    path: string,
    who: { subject: string; roles?: string; email?: string },
    body?: unknown,
  ) => {
    const res = await fetch(`${approval.url}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(await callerHeaders({
          subject: who.subject,
          roles: who.roles ?? 'approver',
          tenant: 'acme',
          email: who.email,
        })),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as Row };
  };
  const taskFor = (requestId: string) =>
    eventually(async () => {
      const rows = (await call('GET', '/tasks', { subject: 'ann' })).body as unknown as Row[];
      return rows.find((r) => r.requestId === requestId);
    });
  const events = <T>(type: string) =>
    recorder
      .events(Topic.approvalEvents)
      .filter((e) => e.type === `warden.approval.v1.${type}`)
      .map((e) => e.data as T);

  beforeAll(async () => {
    db = await freshDatabase('approval_votes');
    port = await provisionedPort(prefix, 3);
    recorder = await TopicRecorder.start(port, prefix, [Topic.approvalEvents, Topic.deadLetter]);
    await publish(
      Topic.registryEvents,
      'payroll-bot',
      create(AgentRegisteredSchema, {
        agentId: 'payroll-bot',
        tenantId: 'acme',
        version: 1,
        profile: create(AgentProfileSchema, {
          owner: create(OwnerSchema, { team: 'payments', contact: 'olga' }),
          tools: [create(ToolGrantSchema, { tool: 'payments', actions: ['transfer'], contractVersion: '2.0.0' })],
        }),
        change: create(ChangeSchema, { by: 'Adam', reason: 'onboarding', atMs: Date.now() }),
      }),
    );
    // An agent whose owner contact is an e-mail address, as registries usually record it.
    await publish(
      Topic.registryEvents,
      'mail-bot',
      create(AgentRegisteredSchema, {
        agentId: 'mail-bot',
        tenantId: 'acme',
        version: 1,
        profile: create(AgentProfileSchema, {
          owner: create(OwnerSchema, { team: 'payments', contact: 'Olga.Owner@Example.com' }),
        }),
        change: create(ChangeSchema, { by: 'adam@example.com', reason: 'onboarding', atMs: Date.now() }),
      }),
    );
    for (const version of ['2.0.0', '3.0.0']) {
      await publish(
        Topic.registryEvents,
        'tool:acme/payments',
        create(ToolContractPublishedSchema, {
          tenantId: 'acme',
          contract: create(ToolContractSchema, {
            tool: 'payments',
            version,
            actions: [
              create(ToolActionSchema, {
                name: 'transfer',
                diffFrom: '/change',
                blastRadiusFrom: '/accounts',
                rollbackPath: `reverse the transfer (contract ${version})`,
                // The newer contract gives its approvals two hours (docs/adr/0116).
                approvalTtlMs: version === '3.0.0' ? 7_200_000 : 0,
              }),
            ],
          }),
        }),
      );
    }
    approval = await startInProcess(readApprovalConfig, approvalService, {
      DATABASE_URL: db.url,
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_INSTANCE_ID: 'approval-votes',
      WARDEN_PARTITIONS: '3',
      APPROVAL_HTTP_PORT: '0',
      APPROVAL_QUORUM: 'critical=2',
      APPROVAL_SOD_RISK_CLASSES: 'critical',
      APPROVAL_REVIEW_INTERVAL_MS: '100',
      APPROVAL_TASK_TTL_BY_RISK_CLASS: 'high=600000',
    });
  });
  afterAll(async () => {
    await approval?.close();
    await recorder?.stop();
    await port?.close();
    await db?.drop();
  });

  it('a critical task carries its context, needs two approvers, refuses SoD, roles, stale digests and double votes', async () => {
    await pending('r1', 'run-1', RiskClass.CRITICAL, { change: { amount: 12000 }, accounts: ['acct-1', 'acct-2'] });
    const task = await taskFor('r1');
    expect(task).toMatchObject({
      status: 'open',
      riskClass: 'critical',
      ownerTeam: 'payments',
      ownerContact: 'olga',
      diff: '{"amount":12000}',
      blastRadius: '["acct-1","acct-2"]',
      rollbackPath: 'reverse the transfer (contract 2.0.0)',
      toolContractVersion: '2.0.0',
      policyVersion: 'acme@7',
      approvalsRequired: 2,
      excludedApprovers: ['rita', 'olga', 'Adam'],
      argumentsDigest: 'sha256:r1',
    });
    expect((task.request as Row).redactedArguments).toEqual({
      change: { amount: 12000 },
      accounts: ['acct-1', 'acct-2'],
    });
    // Critical is not in APPROVAL_TASK_TTL_BY_RISK_CLASS, and 2.0.0 declares no TTL: APPROVAL_TASK_TTL_MS.
    expect(Date.parse(task.expiresAt as string) - Date.parse(task.openedAt as string)).toBe(900_000);
    const id = task.id as string;
    const approve = (subject: string, digest = 'sha256:r1', roles = 'approver') =>
      call('POST', `/tasks/${id}/approve`, { subject, roles }, { argumentsDigest: digest, comment: `${subject} ok` });

    // The requester, the owner contact and the registrant, in any case or spacing.
    for (const who of ['rita', 'olga', 'OLGA', ' Rita', 'adam', 'ADAM']) {
      const sod = await approve(who);
      expect(sod).toMatchObject({ status: 403, body: { code: 'separation_of_duties' } });
      expect(sod.type).toContain('application/problem+json');
    }
    expect((await approve('OLGA')).body.detail).toBe(
      "OLGA may not approve this critical action (separation of duties): the token's subject OLGA is the agent's " +
        'owner contact (olga)',
    );
    expect((await approve('adam')).body.detail).toContain(
      "the token's subject adam is who registered the agent (Adam)",
    );
    expect(await approve('ann', 'sha256:r1', 'auditor')).toMatchObject({
      status: 403,
      body: { code: 'role_required' },
    });
    expect(await approve('ann', 'sha256:other')).toMatchObject({
      status: 409,
      body: { code: 'arguments_digest_mismatch' },
    });
    expect(await approve('ann')).toMatchObject({
      status: 200,
      body: { status: 'open', approvers: ['ann'], approvalsRequired: 2 },
    });
    expect(await approve('ann')).toMatchObject({ status: 409, body: { code: 'already_voted' } });
    expect(await approve('bob', 'sha256:r1', 'admin')).toMatchObject({
      status: 200,
      body: { status: 'granted', approvers: ['ann', 'bob'] },
    });
    expect(await approve('carol')).toMatchObject({ status: 400, body: { code: 'task_resolved' } });

    const [granted] = await eventually(() => {
      const g = events<ApprovalGranted>('ApprovalGranted').filter((e) => e.requestId === 'r1');
      return g.length > 0 && g;
    });
    expect(granted).toMatchObject({
      taskId: id,
      runId: 'run-1',
      argumentsDigest: 'sha256:r1',
      policyVersion: 'acme@7',
      approvers: ['ann', 'bob'],
      approvedBy: 'bob',
    });
    expect(granted.expiresAtMs).toBeGreaterThan(granted.grantedAtMs);
    const row = await eventually(async () => {
      const r = (await call('GET', `/tasks/${id}`, { subject: 'ann', roles: 'auditor' })).body;
      return r.status === 'granted' && r;
    });
    expect((row.votes as Row[]).map((v) => v.voter)).toEqual(['ann', 'bob']);
    const kinds = events<ApprovalNotificationRequested>('ApprovalNotificationRequested')
      .filter((n) => n.taskId === id)
      .map((n) => [n.kind, n.recipients]);
    expect(kinds).toEqual([
      ['opened', ['role:approver', 'team:payments', 'contact:olga']],
      ['granted', ['team:payments', 'contact:olga']],
    ]);
  });

  it("separation of duties by e-mail: an approver whose token's email claim is the requester's, the owner's or the registrant's is refused", async () => {
    await pending(
      'r-mail',
      'run-mail',
      RiskClass.CRITICAL,
      {},
      { agentId: 'mail-bot', onBehalfOf: 'Rita@Example.com' },
    );
    const task = await taskFor('r-mail');
    expect(task).toMatchObject({
      ownerContact: 'Olga.Owner@Example.com',
      excludedApprovers: ['Rita@Example.com', 'Olga.Owner@Example.com', 'adam@example.com'],
      toolContractVersion: '3.0.0',
    });
    // Expiry from the contract's action (3.0.0 declares two hours), over the class and the default.
    expect(Date.parse(task.expiresAt as string) - Date.parse(task.openedAt as string)).toBe(7_200_000);
    const approve = (who: { subject: string; email?: string }) =>
      call('POST', `/tasks/${task.id}/approve`, { ...who, roles: 'approver' }, { argumentsDigest: 'sha256:r-mail' });
    for (const email of ['olga.owner@example.com', 'OLGA.OWNER@EXAMPLE.COM', 'rita@example.com', 'Adam@Example.com']) {
      const sod = await approve({ subject: 'u-4711', email });
      expect(sod).toMatchObject({ status: 403, body: { code: 'separation_of_duties' } });
      expect(sod.type).toContain('application/problem+json');
      expect(sod.body.detail).toContain(`the token's e-mail ${email} is`);
    }
    // A subject that is the owner's address is refused as well; someone else's address is not.
    expect(await approve({ subject: 'olga.owner@example.com' })).toMatchObject({ status: 403 });
    expect(await approve({ subject: 'u-1', email: 'ann@example.com' })).toMatchObject({
      status: 200,
      body: { status: 'open', approvers: ['u-1'] },
    });
    // One person, one vote: the same address under another subject does not make the quorum.
    expect(await approve({ subject: 'u-2', email: 'Ann@Example.com' })).toMatchObject({
      status: 409,
      body: { code: 'already_voted' },
    });
    // Excluded people may still deny: a denial only takes authority away.
    expect(
      await call('POST', `/tasks/${task.id}/deny`, { subject: 'u-9', email: 'olga.owner@example.com' }, {}),
    ).toMatchObject({ status: 200, body: { status: 'denied' } });
  });

  it('one denial denies; the queues list open tasks by risk class and team; another tenant sees nothing', async () => {
    await pending('r2', 'run-2', RiskClass.HIGH);
    await pending('r3', 'run-3', RiskClass.HIGH);
    const r2 = await taskFor('r2');
    await taskFor('r3');
    // Expiry by risk class (APPROVAL_TASK_TTL_BY_RISK_CLASS high=600000): contract 2.0.0 declares none.
    expect(Date.parse(r2.expiresAt as string) - Date.parse(r2.openedAt as string)).toBe(600_000);
    expect(await call('POST', `/tasks/${r2.id}/deny`, { subject: 'ann' }, { comment: 'no' })).toMatchObject({
      status: 200,
      body: { status: 'denied' },
    });
    const queues = await eventually(async () => {
      const q = (await call('GET', '/queues', { subject: 'ann' })).body as unknown as Row[];
      return q.length === 1 && q[0].open === 1 && q;
    });
    expect(queues[0]).toMatchObject({ riskClass: 'high', ownerTeam: 'payments', open: 1 });
    const byTeam = (await call('GET', '/tasks?team=payments&status=open', { subject: 'ann' })).body as unknown as Row[];
    expect(byTeam.map((r) => r.requestId)).toEqual(['r3']);
    expect((await call('GET', '/tasks?team=other', { subject: 'ann' })).body).toEqual([]);
    const other = await fetch(`${approval.url}/tasks/${r2.id}/deny`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(await callerHeaders({ subject: 'gus', roles: 'approver', tenant: 'globex' })),
      },
      body: '{}',
    });
    expect(other.status).toBe(404);
  });

  it('a kill switch engaged while a task waits denies it without any further decision for the run', async () => {
    await pending('r4', 'run-4', RiskClass.HIGH);
    const r4 = await taskFor('r4');
    await publish(
      Topic.killswitchEvents,
      'ks-run-4',
      create(KillSwitchEngagedSchema, {
        switchId: 'ks-run-4',
        scope: create(ScopeSchema, { tenantId: 'acme', runId: 'run-4' }),
        reason: 'stop',
        engagedBy: 'sam',
        engagedAtMs: Date.now(),
      }),
    );
    const denied = await eventually(async () => {
      const r = (await call('GET', `/tasks/${r4.id}`, { subject: 'ann' })).body;
      return r.status === 'denied' && r;
    });
    expect(denied).toMatchObject({ resolvedBy: 'killswitch:ks-run-4' });
    expect(
      await call('POST', `/tasks/${r4.id}/approve`, { subject: 'ann' }, { argumentsDigest: 'sha256:r4' }),
    ).toMatchObject({ status: 400, body: { code: 'task_resolved' } });
    expect((await call('GET', '/tasks?status=open', { subject: 'ann' })).body).toHaveLength(1);
  });

  it('standing approvals: granted over HTTP, uses counted from gate decisions, exhausted at max_uses, revocable', async () => {
    const grant = (who: { subject: string; roles?: string }, body: Row) =>
      call('POST', '/standing-approvals', who, body);
    const expiresAtMs = Date.now() + 3_600_000;
    expect(
      await grant({ subject: 'ann', roles: 'auditor' }, { tool: 'tickets', maxRiskClass: 'low', expiresAtMs }),
    ).toMatchObject({
      status: 403,
    });
    expect(await grant({ subject: 'ann' }, { tool: 'tickets', maxRiskClass: 'critical', expiresAtMs })).toMatchObject({
      status: 400,
      body: { field: 'maxRiskClass' },
    });
    expect(
      await grant(
        { subject: 'ann' },
        { standingId: 'sa-1', tool: 'tickets', actions: ['close'], maxRiskClass: 'medium', maxUses: 2, expiresAtMs },
      ),
    ).toMatchObject({ status: 201, body: { standingId: 'sa-1', status: 'active', uses: 0 } });
    expect(
      await grant({ subject: 'ann' }, { standingId: 'sa-2', tool: 'tickets', maxRiskClass: 'low', expiresAtMs }),
    ).toMatchObject({ status: 201 });
    for (const requestId of ['u1', 'u2']) {
      await publish(
        Topic.gateDecisions,
        `run-${requestId}`,
        create(GateDecidedSchema, {
          decisionId: `d-${requestId}`,
          requestId,
          tenantId: 'acme',
          agentId: 'payroll-bot',
          runId: `run-${requestId}`,
          verdict: Verdict.ALLOW,
          final: true,
          decidedAtMs: Date.now(),
          context: create(DecisionContextSchema, {
            approval: create(ApprovalRefSchema, { standingApprovalId: 'sa-1' }),
          }),
        }),
        `run-${requestId}`,
      );
    }
    const [exhausted] = await eventually(() => {
      const e = events<StandingApprovalExhausted>('StandingApprovalExhausted');
      return e.length > 0 && e;
    });
    expect(exhausted).toMatchObject({ standingId: 'sa-1', tenantId: 'acme', uses: 2 });
    const sa1 = await eventually(async () => {
      const r = (await call('GET', '/standing-approvals/sa-1', { subject: 'ann', roles: 'auditor' })).body;
      return r.status === 'exhausted' && r.uses === 2 && r;
    });
    expect(sa1).toMatchObject({ uses: 2, maxUses: 2, maxRiskClass: 'medium', actions: ['close'] });
    expect((sa1.recentUses as Row[]).map((u) => u.requestId).sort()).toEqual(['u1', 'u2']);
    expect(await call('POST', '/standing-approvals/sa-1/revoke', { subject: 'ann' }, { reason: 'x' })).toMatchObject({
      status: 400,
      body: { code: 'not_active' },
    });
    expect(await call('POST', '/standing-approvals/sa-2/revoke', { subject: 'ann' }, { reason: 'done' })).toMatchObject(
      {
        status: 200,
        body: { status: 'revoked' },
      },
    );
    expect(events('StandingApprovalExhausted')).toHaveLength(1);
    expect(recorder.on(Topic.deadLetter)).toHaveLength(0);
  });

  it('dead-letters a malformed or unknown command on approval.commands and keeps taking votes', async () => {
    await port.publish([
      { topic: topicName(prefix, Topic.approvalCommands), key: 'run-5', value: Buffer.from('garbage'), headers: {} },
    ]);
    await publish(Topic.approvalCommands, 'run-5', create(GateRequestedSchema, { requestId: 'wrong-topic' }), 'run-5');
    const letters = await eventually(() => {
      const d = recorder.on(Topic.deadLetter).filter((r) => r.headers[DLQ.consumer] === 'approval-tasks');
      return d.length === 2 && d;
    });
    for (const letter of letters) expect(letter.headers[DLQ.source]).toContain(`${prefix}${Topic.approvalCommands}:`);
    await pending('r5', 'run-5', RiskClass.HIGH);
    const r5 = await taskFor('r5');
    expect(
      await call('POST', `/tasks/${r5.id}/approve`, { subject: 'ann' }, { argumentsDigest: 'sha256:r5' }),
    ).toMatchObject({ status: 200, body: { status: 'granted' } });
  });
});
