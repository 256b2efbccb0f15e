import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { create, Message } from '@bufbuild/protobuf';
import {
  ApprovalGrantedSchema,
  CastApprovalVoteSchema,
  encode,
  IdentityUnlinkedSchema,
  GateDecided,
  Topic,
  TopicName,
  topicName,
  Verdict,
} from '@warden/contracts';
import { eventually, freshDatabase, TopicRecorder, uniquePrefix } from '@warden/platform/testing';
import { deriveAuthorityKey, DLQ, KafkaPort, signAuthority } from '@warden/platform';
import { WardenClient } from '@warden/sdk';
import { DEFAULT_PORTS, SERVICES, ServiceName, Stack } from '@warden/local-stack';
import { call, Identity } from './http';
import { SecuredStack, startSecuredStack } from './secure-broker';

/**
 * Human approval across the six services as separate processes on the real broker: a critical
 * tool call gets pending_approval, the approval service opens a task with its context, approvers
 * approve over HTTP, and the policy service emits the final decision the agent receives. With a
 * kill switch engaged while the task waits, the task is denied and the agent receives deny.
 *
 * Needs the policy side of issue #6 (branch wt/admission: pending_approval for critical or
 * approval-requiring actions, final decisions on ApprovalGranted/Denied/Expired) and tool
 * contracts in the registry (branch wt/registry); it runs once those are merged.
 */
jest.setTimeout(180_000);

describe('approval end to end (needs the admission policy and registry tool contracts merged)', () => {
  const prefix = uniquePrefix('e2e-approval');
  const offset = 1500 + Math.floor(Math.random() * 50) * 10;
  const ports = Object.fromEntries(SERVICES.map((s) => [s, DEFAULT_PORTS[s] + offset])) as Record<ServiceName, number>;
  const admin: Identity = { subject: 'alice', roles: ['admin'], tenant: 'acme' };
  const sre: Identity = { subject: 'sam', roles: ['sre'], tenant: 'acme' };
  const ann: Identity = { subject: 'ann', roles: ['approver'], tenant: 'acme', email: 'ann@example.com' };
  const bob: Identity = { subject: 'bob', roles: ['approver'], tenant: 'acme' };
  let db: { url: string; drop(): Promise<void> };
  let secured: SecuredStack;
  let stack: Stack;
  let client: WardenClient;
  let port: KafkaPort;
  let recorder: TopicRecorder;

  const transfer = (runId: string, opts: { requestId?: string; approvalTimeoutMs?: number } = {}) =>
    client.gate(
      {
        requestId: opts.requestId,
        tenantId: 'acme',
        agentId: 'treasury-bot',
        runId,
        environment: 'prod',
        action: { kind: 'tool_call', tool: 'payments', name: 'transfer' },
        arguments: { amount: 12000, accounts: ['acct-1', 'acct-2'] },
        onBehalfOf: 'rita',
        estimatedTokens: 10,
      },
      { timeoutMs: 10_000, approvalTimeoutMs: opts.approvalTimeoutMs },
    );
  const balance = (runId: string, opts: { approvalTimeoutMs?: number } = {}) =>
    client.gate(
      {
        tenantId: 'acme',
        agentId: 'treasury-bot',
        runId,
        environment: 'prod',
        action: { kind: 'tool_call', tool: 'payments', name: 'balance' },
        arguments: { account: 'acct-1' },
        estimatedTokens: 10,
      },
      { timeoutMs: 10_000, approvalTimeoutMs: opts.approvalTimeoutMs },
    );
  const policyAdmin: Identity = { subject: 'paula', roles: ['admin'], tenant: 'acme' };
  /** The final decision the agent receives on gate.decisions for its request. */
  const finalDecision = (requestId: string) =>
    eventually(
      () =>
        recorder
          .events(Topic.gateDecisions)
          .map((e) => e.data as GateDecided)
          .find((d) => d.requestId === requestId && d.final),
      30_000,
      `the final decision of ${requestId}`,
    );
  const openTaskOf = (requestId: string) =>
    eventually(
      async () => {
        const r = await call<Record<string, unknown>[]>(stack.urls.approval, 'GET', '/tasks?status=open', ann);
        return r.body.find((t) => t.requestId === requestId);
      },
      30_000,
      `the approval task of ${requestId}`,
    );

  /** Dead letters but those of the records the forgery test produces on purpose. */
  const unforgedDeadLetters = () =>
    recorder.on(Topic.deadLetter).filter((r) => !r.headers.ce_id?.startsWith('forged-'));

  beforeAll(async () => {
    db = await freshDatabase('e2e_approval');
    // With the authorizer on (docs/security.md): each service its own principal, the agent only
    // its own. The recorder and the forgeries below run as the super user, a principal with produce
    // rights on every topic; without them an agent is refused (test/e2e/access.e2e.spec.ts).
    secured = await startSecuredStack({
      databaseUrl: db.url,
      topicPrefix: prefix,
      ports,
      logDir: join(__dirname, '..', '..', '.warden', 'e2e-logs', prefix),
      principals: { treasury: 'agent:acme/treasury-bot' },
      // The agent here is identified by its registration, not by an agent token (tested elsewhere).
      env: { POLICY_AGENT_TOKENS: 'optional' },
    });
    stack = secured.stack;
    port = await secured.portAs('admin');
    recorder = await TopicRecorder.start(port, prefix, [Topic.gateDecisions, Topic.deadLetter]);
    // An allow carries a decision token: the registry must have a decision-token signing key.
    const key = await call(
      stack.urls.registry,
      'POST',
      '/keys/rotate',
      { ...admin, roles: ['platform-admin'] },
      {
        use: 'decision_token',
        reason: 'e2e',
      },
    );
    expect(key.status).toBe(200);
    const payments = {
      tool: 'payments',
      description: 'moves money between accounts',
      inputSchema: { type: 'object' },
      outputSchema: { type: 'object' },
      ownerTeam: 'treasury',
      actions: [
        {
          name: 'transfer',
          riskClass: 'critical',
          requiresApproval: true,
          diffFrom: '/amount',
          blastRadiusFrom: '/accounts',
          rollbackPath: 'reverse the transfer in the ledger',
          auditEvent: 'payments.transferred',
          // Transfers wait an hour for their approvers, whatever the service's default.
          approvalTtlMs: 3_600_000,
        },
        { name: 'balance', riskClass: 'low', auditEvent: 'payments.balance_read' },
      ],
      reason: 'e2e',
    };
    // An approval TTL outside 1 s .. 30 days is refused, naming the field.
    const badTtl = await call(stack.urls.registry, 'POST', '/tools', admin, {
      ...payments,
      actions: [{ ...payments.actions[0], approvalTtlMs: 5 }],
    });
    expect(badTtl).toMatchObject({
      status: 400,
      contentType: expect.stringContaining('application/problem+json'),
      body: { code: 'invalid_approval_ttl', field: 'actions[0].approvalTtlMs' },
    });
    const contract = await call(stack.urls.registry, 'POST', '/tools', admin, payments);
    expect(contract.status).toBe(200);
    const registered = await call(stack.urls.registry, 'POST', '/agents', admin, {
      agentId: 'treasury-bot',
      mission: 'pay suppliers',
      // Registries record owners by e-mail address; approvers' tokens carry theirs as the email claim.
      owner: { team: 'treasury', contact: 'Olga@Example.com' },
      businessProcess: 'payables',
      model: 'gpt-5',
      tools: [
        {
          tool: 'payments',
          actions: ['transfer', 'balance'],
          contractVersion: contract.body.version,
          definitionDigest: contract.body.definitionDigest,
        },
      ],
      environments: ['prod'],
      // ADR 0013 level 1: every tool call needs approval, even a low-risk one.
      autonomyLevel: 1,
      shutdownPath: 'disable the payments connector',
      reason: 'e2e',
    });
    expect(registered.status).toBe(201);
    const activated = await call(stack.urls.registry, 'POST', '/agents/treasury-bot/activate', admin, {
      expectedVersion: registered.body.version,
      reason: 'e2e',
    });
    expect(activated.status).toBe(200);
    client = await WardenClient.connect({
      brokers: secured.broker.brokers,
      topicPrefix: prefix,
      clientId: 'e2e-approval',
      agent: { tenantId: 'acme', agentId: 'treasury-bot' },
      security: secured.security('treasury'),
    });
    // The agent acts on rita's behalf: she grants it that authority (the gate checks a live grant).
    const rita: Identity = { subject: 'rita', roles: ['owner'], tenant: 'acme' };
    const grant = await call(stack.urls.registry, 'POST', '/agents/treasury-bot/grants', rita, {
      scopes: ['payments:transfer'],
      expiresAtMs: Date.now() + 3_600_000,
      reason: 'e2e',
    });
    expect(grant.status).toBe(201);
  });

  afterAll(async () => {
    await client?.close();
    await recorder?.stop();
    await secured?.stop();
    await db?.drop();
  });

  it('a critical tool call waits; two approvers approve over HTTP; the agent receives allow', async () => {
    await eventually(
      async () => ((await transfer('run-warm-up')).verdict === 'pending_approval' ? true : undefined),
      30_000,
      'the registry to reach the gate',
    );
    // The agent asks and waits through the approval: its gate() call returns the final decision.
    const pending = { requestId: randomUUID() };
    const waiting = transfer('run-approve', { requestId: pending.requestId, approvalTimeoutMs: 60_000 });
    // The pending decision names the task that will decide it: approvers go straight to it.
    const pendingDecision = await eventually(
      () =>
        recorder
          .events(Topic.gateDecisions)
          .map((e) => e.data as GateDecided)
          .find((d) => d.requestId === pending.requestId && d.verdict === Verdict.PENDING_APPROVAL),
      30_000,
      'the pending decision',
    );
    const taskId = pendingDecision.context?.approval?.taskId ?? '';
    expect(taskId).toMatch(/^[0-9a-f-]{36}$/);
    const task = await eventually(
      async () => {
        const r = await call(stack.urls.approval, 'GET', `/tasks/${taskId}`, ann);
        return r.status === 200 && r.body;
      },
      30_000,
      `approval task ${taskId}`,
    );
    expect(task).toMatchObject({
      id: taskId,
      requestId: pending.requestId,
      riskClass: 'critical',
      tool: 'payments',
      action: 'transfer',
      ownerTeam: 'treasury',
      ownerContact: 'Olga@Example.com',
      diff: '12000',
      blastRadius: '["acct-1","acct-2"]',
      rollbackPath: 'reverse the transfer in the ledger',
      approvalsRequired: 2,
      // The requester, the owner contact and the admin who registered the agent.
      excludedApprovers: ['rita', 'Olga@Example.com', 'alice'],
    });
    // Expiry from the contract's action: an hour, not APPROVAL_TASK_TTL_MS.
    expect(Date.parse(task.expiresAt as string) - Date.parse(task.openedAt as string)).toBe(3_600_000);
    const digest = task.argumentsDigest as string;
    expect(digest).toMatch(/^sha256:/);
    // Separation of duties on normalised identities: case and e-mail variants of the requester and
    // the owner, and the registrant, are refused, each naming why.
    const refused: [Identity, string][] = [
      [{ subject: 'rita', roles: ['approver'], tenant: 'acme' }, 'the requester'],
      [{ subject: 'RITA', roles: ['approver'], tenant: 'acme' }, 'the requester'],
      [{ subject: 'olga@example.com', roles: ['approver'], tenant: 'acme' }, "the agent's owner contact"],
      [
        { subject: 'u-olga', roles: ['approver'], tenant: 'acme', email: 'OLGA@example.com' },
        "the agent's owner contact",
      ],
      [admin, 'who registered the agent'],
      [{ subject: 'Alice', roles: ['approver'], tenant: 'acme' }, 'who registered the agent'],
    ];
    for (const [who, why] of refused) {
      const sod = await call(stack.urls.approval, 'POST', `/tasks/${task.id}/approve`, who, {
        argumentsDigest: digest,
      });
      expect(sod).toMatchObject({
        status: 403,
        contentType: expect.stringContaining('application/problem+json'),
        body: { code: 'separation_of_duties' },
      });
      expect(sod.body.detail).toContain(why);
    }
    const first = await call(stack.urls.approval, 'POST', `/tasks/${task.id}/approve`, ann, {
      argumentsDigest: digest,
      comment: 'checked the invoice',
    });
    expect(first).toMatchObject({ status: 200, body: { status: 'open', approvers: ['ann'] } });
    // Not yet final: one approval of two.
    expect(
      recorder
        .events(Topic.gateDecisions)
        .some((e) => (e.data as GateDecided).requestId === pending.requestId && (e.data as GateDecided).final),
    ).toBe(false);
    const second = await call(stack.urls.approval, 'POST', `/tasks/${task.id}/approve`, bob, {
      argumentsDigest: digest,
      comment: 'second pair of eyes',
    });
    expect(second).toMatchObject({ status: 200, body: { status: 'granted', approvers: ['ann', 'bob'] } });
    const received = await waiting;
    expect(received).toMatchObject({
      verdict: 'allow',
      allowed: true,
      requestId: pending.requestId,
      approvalTaskId: taskId,
      approvers: ['ann', 'bob'],
    });
    expect(received.decisionToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const decided = await finalDecision(pending.requestId);
    expect(decided.verdict).toBe(Verdict.ALLOW);
    // The approval record lists both approvers of the quorum; approved_by stays the last one.
    expect(decided.context?.approval).toMatchObject({ taskId, approvedBy: 'bob', approvers: ['ann', 'bob'] });
  });

  it('a forged grant and forged votes produced straight to the topics are dead-lettered; the decision stays pending', async () => {
    // A principal with produce rights on approval.events and approval.commands but without the
    // key-encryption key (docs/adr/0118): records unsigned, or signed with an approval key of its own.
    const requestId = randomUUID();
    const waiting = transfer('run-forged', { requestId, approvalTimeoutMs: 90_000 });
    const task = await openTaskOf(requestId);
    const digest = task.argumentsDigest as string;
    const ownKey = deriveAuthorityKey(randomBytes(32), 'approval');
    const record = (topic: TopicName, id: string, data: Message, sign: boolean) => {
      const wire = encode({
        id,
        type: data.$typeName,
        source: 'warden://approval/approval-tasks',
        time: Date.now(),
        key: 'run-forged',
        tenantId: 'acme',
        agentId: 'treasury-bot',
        runId: 'run-forged',
        data,
      });
      const headers = sign ? { ...wire.headers, ...signAuthority(topic, wire, ownKey) } : wire.headers;
      return { topic: topicName(prefix, topic), ...wire, headers };
    };
    const grant = create(ApprovalGrantedSchema, {
      taskId: task.id as string,
      requestId,
      runId: 'run-forged',
      argumentsDigest: digest,
      approvedBy: 'nobody',
      approvers: ['nobody', 'ghost'],
      grantedAtMs: Date.now(),
      expiresAtMs: Date.now() + 3_600_000,
    });
    const vote = (voter: string) =>
      create(CastApprovalVoteSchema, {
        voteId: randomUUID(),
        taskId: task.id as string,
        runId: 'run-forged',
        tenantId: 'acme',
        voter,
        roles: ['approver'],
        approve: true,
        argumentsDigest: digest,
        castAtMs: Date.now(),
      });
    // Without produce rights, the agent's own principal cannot even deliver them.
    const asAgent = await secured.portAs('treasury');
    for (const topic of [Topic.approvalEvents, Topic.approvalCommands])
      await expect(
        asAgent.publish([
          record(topic, `forged-by-agent-${topic}`, topic === Topic.approvalEvents ? grant : vote('me'), false),
        ]),
      ).rejects.toThrow(/[Aa]uthorization/);
    await port.publish([
      record(Topic.approvalEvents, 'forged-grant-unsigned', grant, false),
      record(Topic.approvalEvents, 'forged-grant-own-key', grant, true),
      record(Topic.approvalCommands, 'forged-vote-1', vote('nobody'), false),
      record(Topic.approvalCommands, 'forged-vote-2', vote('ghost'), true),
    ]);
    const expected: [string, string, string][] = [
      ['forged-grant-unsigned', 'policy-gate', 'forged:unsigned'],
      ['forged-grant-own-key', 'policy-gate', 'forged:wrong_signer'],
      ['forged-vote-1', 'approval-tasks', 'forged:unsigned'],
      ['forged-vote-2', 'approval-tasks', 'forged:wrong_signer'],
    ];
    const letters = await eventually(
      () => {
        const found = expected.map(([id, consumer, code]) =>
          recorder
            .on(Topic.deadLetter)
            .find(
              (r) => r.headers.ce_id === id && r.headers[DLQ.consumer] === consumer && r.headers[DLQ.code] === code,
            ),
        );
        return found.every(Boolean) && found;
      },
      30_000,
      'the forged grants and votes dead-lettered by policy and approval',
    );
    expect(letters[0]!.headers[DLQ.reason]).toBe('approval.events records must be signed by approval; this one is not');
    expect(letters[1]!.headers[DLQ.reason]).toContain('is not its key');
    // Nothing changed: the task is open with no approver, and no final decision was made.
    const after = await call(stack.urls.approval, 'GET', `/tasks/${task.id}`, ann);
    expect(after.body).toMatchObject({ status: 'open' });
    expect(
      recorder
        .events(Topic.gateDecisions)
        .some((e) => (e.data as GateDecided).requestId === requestId && (e.data as GateDecided).final),
    ).toBe(false);
    // The consumers went on: the genuine approvers still decide the task.
    for (const who of [ann, bob]) {
      const genuine = await call(stack.urls.approval, 'POST', `/tasks/${task.id}/approve`, who, {
        argumentsDigest: digest,
      });
      expect(genuine.status).toBe(200);
    }
    expect(await waiting).toMatchObject({ verdict: 'allow', requestId, approvers: ['ann', 'bob'] });
  });

  it('a kill switch engaged while the task waits denies the task, and the agent receives deny', async () => {
    const pending = await transfer('run-killed');
    expect(pending.verdict).toBe('pending_approval');
    // The SDK's result names the task; it is the one the approval service opened for the request.
    const task = await openTaskOf(pending.requestId);
    expect(pending.approvalTaskId).toBe(task.id);
    const engaged = await call(stack.urls.killswitch, 'POST', '/killswitches', sre, {
      scope: { tenantId: 'acme', runId: 'run-killed' },
      reason: 'suspicious transfers',
    });
    expect(engaged.status).toBe(201);
    const denied = await eventually(
      async () => {
        const r = await call(stack.urls.approval, 'GET', `/tasks/${task.id}`, ann);
        return r.body.status === 'denied' && r.body;
      },
      30_000,
      'the task denied by the kill switch',
    );
    expect(denied.resolvedBy).toBe(`killswitch:${engaged.body.switchId}`);
    const late = await call(stack.urls.approval, 'POST', `/tasks/${task.id}/approve`, ann, {
      argumentsDigest: task.argumentsDigest,
    });
    expect(late).toMatchObject({ status: 400, body: { code: 'task_resolved' } });
    const decided = await finalDecision(pending.requestId);
    expect(decided.verdict).toBe(Verdict.DENY);
    expect(unforgedDeadLetters()).toHaveLength(0);
  });

  it('autonomy level 1: a low-risk tool call waits for approval, and one approver lets it through', async () => {
    const pending = await balance('run-level-1');
    expect(pending).toMatchObject({ verdict: 'pending_approval', allowed: false });
    expect(pending.reason).toBe(
      'approval required: autonomy level 1 (act with approval on every tool call): a low-risk tool call needs approval',
    );
    const autonomy = pending.decision!.context!.evaluations.find((e) => e.policyId === 'warden.autonomy');
    expect(autonomy).toMatchObject({ result: 'require_approval', version: 'builtin-2' });
    const task = await openTaskOf(pending.requestId);
    expect(task).toMatchObject({ riskClass: 'low', action: 'balance', approvalsRequired: 1 });
    const approved = await call(stack.urls.approval, 'POST', `/tasks/${task.id}/approve`, ann, {
      argumentsDigest: task.argumentsDigest,
    });
    expect(approved).toMatchObject({ status: 200, body: { status: 'granted' } });
    const decided = await finalDecision(pending.requestId);
    expect(decided.verdict).toBe(Verdict.ALLOW);
  });

  it('identity links registered over the registry API: a linked subject is the owner, two linked subjects one vote; unlinked, counted', async () => {
    // An identity provider whose tokens carry no e-mail claim: u-123 is Olga, the owner contact.
    const links = (body: unknown, who: Identity = admin) =>
      call(stack.urls.registry, 'POST', '/identities/links', who, body);
    expect(await links({ subject: 'u-123', aliases: [], reason: 'e2e' })).toMatchObject({
      status: 400,
      contentType: expect.stringContaining('application/problem+json'),
      body: { code: 'aliases_required', field: 'aliases' },
    });
    expect(await links({ subject: 'u-123', aliases: ['olga@example.com'], reason: 'e2e' }, ann)).toMatchObject({
      status: 403,
      body: { code: 'role_required' },
    });
    expect(
      await links({ subject: 'u-123', aliases: ['olga@example.com'], reason: 'IdP sends no email' }),
    ).toMatchObject({
      status: 201,
      body: { subject: 'u-123', aliases: ['olga@example.com'], linked: true },
    });
    // Bob has a second subject for his admin tasks.
    expect(await links({ subject: 'bob', aliases: ['bob-admin'], reason: 'second account' })).toMatchObject({
      status: 201,
    });
    const listed = await eventually(async () => {
      const r = await call<Record<string, unknown>[]>(stack.urls.registry, 'GET', '/identities/links', ann);
      return r.status === 200 && r.body.length >= 2 && r.body;
    });
    expect(listed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ subject: 'u-123', aliases: ['olga@example.com'], linkedBy: 'alice' }),
      ]),
    );
    const requestId = randomUUID();
    const waiting = transfer('run-linked', { requestId, approvalTimeoutMs: 90_000 });
    const task = await openTaskOf(requestId);
    const approve = (who: Identity) =>
      call(stack.urls.approval, 'POST', `/tasks/${task.id}/approve`, who, { argumentsDigest: task.argumentsDigest });
    const u123: Identity = { subject: 'u-123', roles: ['approver'], tenant: 'acme' };
    const refused = await approve(u123);
    expect(refused).toMatchObject({
      status: 403,
      contentType: expect.stringContaining('application/problem+json'),
      body: { code: 'separation_of_duties' },
    });
    expect(refused.body.detail).toContain("subject u-123 is linked to Olga@Example.com, the agent's owner contact");
    expect(await approve(bob)).toMatchObject({ status: 200, body: { status: 'open', approvers: ['bob'] } });
    const twice = await approve({ subject: 'BOB-ADMIN', roles: ['approver'], tenant: 'acme' });
    expect(twice).toMatchObject({ status: 409, body: { code: 'already_voted' } });
    expect(twice.body.detail).toContain('is linked to bob');
    // A forged unlink produced straight to registry.events, unsigned, is dead-lettered: the link holds.
    const forged = encode({
      id: 'forged-unlink',
      type: 'warden.registry.v1.IdentityUnlinked',
      source: 'warden://registry',
      time: Date.now(),
      key: 'identity-links:acme',
      tenantId: 'acme',
      agentId: '',
      runId: '',
      data: create(IdentityUnlinkedSchema, { tenantId: 'acme', subject: 'u-123' }),
    });
    await port.publish([{ topic: topicName(prefix, Topic.registryEvents), ...forged }]);
    const letter = await eventually(
      () =>
        recorder
          .on(Topic.deadLetter)
          .find((r) => r.headers.ce_id === 'forged-unlink' && /approval/.test(r.headers[DLQ.consumer] ?? '')),
      30_000,
      'the forged unlink dead-lettered by approval',
    );
    expect(letter.headers[DLQ.code]).toBe('forged:unsigned');
    expect(await approve(u123)).toMatchObject({ status: 403, body: { code: 'separation_of_duties' } });
    // The admin unlinks: u-123 is just another approver again, and the second approval grants.
    const unlinked = await call(stack.urls.registry, 'DELETE', '/identities/links/u-123', admin, {
      reason: 'wrong person',
    });
    expect(unlinked).toMatchObject({ status: 200, body: { subject: 'u-123', unlinked: true } });
    const counted = await eventually(async () => {
      const r = await approve(u123);
      return r.status === 200 && r;
    });
    expect(counted.body).toMatchObject({ status: 'granted', approvers: ['bob', 'u-123'] });
    expect((await waiting).verdict).toBe('allow');
  });

  it('a deny rule activated while a task waits denies the grant, naming the rule; an unchanged verdict still allows', async () => {
    // Both wait under no bundle: one will be caught by the new rule, the other not.
    const frozenId = randomUUID();
    const frozen = transfer('run-frozen-1', { requestId: frozenId, approvalTimeoutMs: 90_000 });
    const untouched = await transfer('run-untouched');
    expect(untouched.verdict).toBe('pending_approval');
    const frozenTask = await openTaskOf(frozenId);
    const untouchedTask = await openTaskOf(untouched.requestId);

    const bundle = {
      id: 'treasury',
      version: '1.0.0',
      description: 'payments freeze',
      rules: [
        {
          id: 'payments-frozen',
          description: 'No transfers in the frozen runs.',
          when: 'request.tool == "payments" && request.action == "transfer" && request.runId.startsWith("run-frozen")',
          effect: 'deny',
          risk: 0,
          reason: 'transfers are frozen for the audit',
        },
      ],
      tests: [
        {
          name: 'a frozen transfer is denied',
          input: { request: { actionKind: 'tool_call', tool: 'payments', action: 'transfer', runId: 'run-frozen-x' } },
          expect: { verdict: 'deny', rules: ['payments-frozen'] },
        },
      ],
    };
    expect((await call(stack.urls.policy, 'POST', '/bundles', policyAdmin, bundle)).status).toBe(201);
    expect((await call(stack.urls.policy, 'POST', '/bundles/1.0.0/activate', policyAdmin, {})).status).toBe(200);
    // New requests are denied once the activation reached the gate.
    const denied = await eventually(
      async () => {
        const r = await transfer(`run-frozen-${randomUUID()}`);
        return r.verdict === 'deny' ? r : undefined;
      },
      30_000,
      'the deny rule to reach the gate',
    );
    expect(denied.reason).toBe('transfers are frozen for the audit');

    // The task that waited is approved by both approvers under the old policy ...
    for (const who of [ann, bob]) {
      const vote = await call(stack.urls.approval, 'POST', `/tasks/${frozenTask.id}/approve`, who, {
        argumentsDigest: frozenTask.argumentsDigest,
      });
      expect(vote.status).toBe(200);
    }
    // ... and still denied: the verdict changed while it waited.
    const received = await frozen;
    expect(received).toMatchObject({ verdict: 'deny', allowed: false, requestId: frozenId });
    expect(received.decisionToken ?? '').toBe('');
    const decided = await finalDecision(frozenId);
    expect(decided.verdict).toBe(Verdict.DENY);
    expect(decided.reason).toBe(
      'the verdict changed while the request waited for approval: rule payments-frozen of policy bundle 1.0.0 denies: transfers are frozen for the audit',
    );
    expect(decided.context!.evaluations.at(-1)).toMatchObject({
      policyId: 'payments-frozen',
      version: '1.0.0',
      result: 'deny',
    });
    expect(decided.context!.versions!.policyBundleVersion).toBe('1.0.0');

    // The other task's request is not caught by the new rule: its grant stands.
    for (const who of [ann, bob]) {
      const vote = await call(stack.urls.approval, 'POST', `/tasks/${untouchedTask.id}/approve`, who, {
        argumentsDigest: untouchedTask.argumentsDigest,
      });
      expect(vote.status).toBe(200);
    }
    const allowed = await finalDecision(untouched.requestId);
    expect(allowed.verdict).toBe(Verdict.ALLOW);
    expect(allowed.decisionTokenDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(unforgedDeadLetters()).toHaveLength(0);
  });
});
