import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ActionKind,
  create,
  DataClass,
  GateDecidedSchema,
  GateRequestedSchema,
  PolicyBundleActivatedSchema,
  Topic,
  Verdict,
} from '@warden/contracts';
import { callerHeaders, DLQ, KafkaPort } from '@warden/platform';
import {
  connectedPort,
  eventually,
  freshDatabase,
  InProcessService,
  publishEvent,
  startInProcess,
  TopicRecorder,
  uniquePrefix,
} from '@warden/platform/testing';
import { readPolicyConfig } from './config';
import { policyService } from './service';

const defaultBundle = JSON.parse(readFileSync(join(__dirname, '../../../deploy/policies/default.bundle.json'), 'utf8'));

/** v2 of the default bundle: web search may not carry personal data either. */
const v2 = {
  ...defaultBundle,
  version: '2.0.0',
  rules: [
    ...defaultBundle.rules,
    {
      id: 'pii-in-search',
      description: 'Personal data must not go into a web search.',
      when: 'request.actionKind == "tool_call" && request.tool == "web.search" && "pii" in request.dataClasses',
      effect: 'deny',
      risk: 70,
      reason: 'personal data must not go into a web search',
    },
  ],
  tests: [
    ...defaultBundle.tests,
    {
      name: 'a web search with PII is denied',
      input: { request: { actionKind: 'tool_call', tool: 'web.search', dataClasses: ['pii'], attempt: 1 } },
      expect: { verdict: 'deny', rules: ['pii-in-search'] },
    },
  ],
};

describe('policy bundles: publish, activate, roll back, shadow and what-if (HTTP, real Kafka and Postgres)', () => {
  const prefix = uniquePrefix('bundles');
  let db: { url: string; drop(): Promise<void> };
  let service: InProcessService;
  let port: KafkaPort;
  let recorder: TopicRecorder;

  const call = async (method: string, path: string, body?: unknown, roles = 'admin', tenant = 'acme') => {
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(await callerHeaders({ subject: 'ana', roles, tenant })) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      body: (await res.json()) as Record<string, unknown>,
    };
  };

  /** A recorded live decision on gate.decisions, as the gate writes it. */
  const decided = (
    tenantId: string,
    requestId: string,
    verdict: Verdict,
    request: Record<string, unknown>,
    decidedAtMs: number,
  ) =>
    publishEvent(
      port,
      prefix,
      Topic.gateDecisions,
      `run-${requestId}`,
      create(GateDecidedSchema, {
        decisionId: `d-${requestId}`,
        requestId,
        tenantId,
        agentId: 'bot',
        runId: `run-${requestId}`,
        verdict,
        decidedAtMs,
        final: verdict !== Verdict.PENDING_APPROVAL,
        request: create(GateRequestedSchema, {
          requestId,
          tenantId,
          agentId: 'bot',
          runId: `run-${requestId}`,
          attempt: 1,
          ...request,
        }),
      }),
      { tenantId, agentId: 'bot', runId: `run-${requestId}` },
    );

  beforeAll(async () => {
    db = await freshDatabase('bundles');
    service = await startInProcess(readPolicyConfig, policyService, {
      DATABASE_URL: db.url,
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_INSTANCE_ID: 'policy-a',
      POLICY_HTTP_PORT: '0',
    });
    port = await connectedPort('bundles-test');
    recorder = await TopicRecorder.start(port, prefix, [Topic.policyEvents, Topic.policyShadow, Topic.deadLetter]);
  });
  afterAll(async () => {
    await service.close();
    await recorder.stop();
    await port.close();
    await db.drop();
  });

  it('dead-letters a bundle activation it did not sign (docs/adr/0118): the active version stays', async () => {
    const tenant = 'forge';
    for (const bundle of [defaultBundle, v2])
      expect((await call('POST', '/bundles', bundle, 'admin', tenant)).status).toBe(201);
    expect((await call('POST', '/bundles/1.0.0/activate', {}, 'admin', tenant)).status).toBe(200);
    const forged = create(PolicyBundleActivatedSchema, {
      bundleId: 'default',
      tenantId: tenant,
      version: '2.0.0',
      activatedBy: 'nobody',
      activatedAtMs: Date.now(),
    });
    for (const kek of ['unsigned', Buffer.alloc(32, 7).toString('base64')])
      await publishEvent(port, prefix, Topic.policyEvents, tenant, forged, { tenantId: tenant, kek });
    const letters = await eventually(
      () => {
        const found = recorder
          .on(Topic.deadLetter)
          .filter((r) => r.headers.ce_type === 'warden.policy.v1.PolicyBundleActivated');
        return found.length >= 2 && found;
      },
      20_000,
      'both forged activations dead-lettered',
    );
    expect(letters.map((r) => r.headers[DLQ.code]).sort()).toEqual(
      expect.arrayContaining(['forged:unsigned', 'forged:wrong_signer']),
    );
    // A genuine change after them is applied: the consumers went on, and 1.0.0 was active until then.
    const before = await call('GET', '/bundles', undefined, 'sre', tenant);
    expect(before.body).toMatchObject({ activeVersion: '1.0.0' });
    expect((await call('POST', '/bundles/2.0.0/activate', {}, 'admin', tenant)).status).toBe(200);
    await eventually(async () => {
      const r = await call('GET', '/bundles', undefined, 'sre', tenant);
      return r.body.activeVersion === '2.0.0';
    });
  });

  it('refuses a bundle with a CEL error naming the rule and position, and one whose tests fail listing each case', async () => {
    const broken = {
      ...defaultBundle,
      rules: [defaultBundle.rules[0], { id: 'bad', when: 'request.tool ==', effect: 'deny' }],
      tests: [],
    };
    const celError = await call('POST', '/bundles', broken);
    expect(celError.status).toBe(400);
    expect(celError.type).toContain('application/problem+json');
    expect(celError.body).toMatchObject({ code: 'cel_error', field: 'rules[1].when' });
    expect(celError.body.detail).toMatch(/^rule bad \(line 1, column 16\): /);

    const wrong = {
      ...defaultBundle,
      tests: [
        {
          name: 'email PII is fine?',
          input: { request: { actionKind: 'tool_call', tool: 'email.send', dataClasses: ['pii'], attempt: 1 } },
          expect: { verdict: 'allow' },
        },
      ],
    };
    const failing = await call('POST', '/bundles', wrong);
    expect(failing.status).toBe(400);
    expect(failing.body).toMatchObject({ code: 'bundle_tests_failed', field: 'tests' });
    expect(failing.body.detail).toContain(
      'test "email PII is fine?": expected allow, got deny, rules [pii-exfiltration]',
    );

    const malformed = await call('POST', '/bundles', {
      ...defaultBundle,
      rules: [{ id: 'x', when: 'true', effect: 'perhaps' }],
    });
    expect(malformed.body).toMatchObject({ status: 400, field: 'rules[0].effect' });
    expect((await call('POST', '/bundles', defaultBundle, 'sre')).status).toBe(403);
  });

  it('publishes, lists, diffs, activates, shadows, reports flips on recorded traffic, runs what-if, and rolls back', async () => {
    const published = await call('POST', '/bundles', defaultBundle);
    expect(published.status).toBe(201);
    expect(published.body).toMatchObject({
      event: 'PolicyBundlePublished',
      bundleId: 'default',
      version: '1.0.0',
      rules: 11,
    });
    expect((await call('POST', '/bundles', v2)).status).toBe(201);
    expect((await call('POST', '/bundles', v2)).body).toMatchObject({ status: 409, code: 'version_exists' });

    const diff = await call('GET', '/bundles/diff?from=1.0.0&to=2.0.0', undefined, 'auditor');
    expect(diff.body).toMatchObject({ from: '1.0.0', to: '2.0.0', removed: [], changed: [], unchanged: 11 });
    expect((diff.body.added as { id: string }[]).map((r) => r.id)).toEqual(['pii-in-search']);

    expect((await call('POST', '/bundles/1.0.0/activate', {})).status).toBe(200);
    expect((await call('POST', '/bundles/shadow', { version: '2.0.0' })).status).toBe(200);
    const listed = await eventually(
      async () => {
        const r = await call('GET', '/bundles', undefined, 'sre');
        const versions = (r.body.versions ?? []) as { activations: unknown[] }[];
        return versions.length === 2 && versions[0].activations.length === 1 ? r : undefined;
      },
      20_000,
      'both versions projected',
    );
    expect(listed.body).toMatchObject({
      tenantId: 'acme',
      bundleId: 'default',
      activeVersion: '1.0.0',
      shadowVersion: '2.0.0',
    });
    expect((await call('GET', '/bundles', undefined, 'sre', 'other')).body).toMatchObject({
      versions: [],
      activeVersion: null,
    });
    const got = await call('GET', '/bundles/2.0.0', undefined, 'owner');
    expect(got.body).toMatchObject({ version: '2.0.0', tenantId: 'acme' });
    expect(got.body.rules).toHaveLength(12);
    expect((await call('GET', '/bundles/2.0.0', undefined, 'approver')).status).toBe(403);

    const dryRun = await call(
      'POST',
      '/bundles/active/evaluate',
      {
        request: { actionKind: 'tool_call', tool: 'deploy', environment: 'prod', dataClasses: [], attempt: 1 },
      },
      'auditor',
    );
    expect(dryRun.body).toMatchObject({
      version: '1.0.0',
      verdict: 'require_approval',
      rules: [{ ruleId: 'prod-deploy-approval' }],
    });

    // Live traffic, recorded on gate.decisions after the activation.
    const t0 = Date.now();
    await decided(
      'acme',
      'r-search',
      Verdict.ALLOW,
      { actionKind: ActionKind.TOOL_CALL, tool: 'web.search', dataClasses: [DataClass.PII] },
      t0 + 1,
    );
    await decided(
      'acme',
      'r-deploy',
      Verdict.PENDING_APPROVAL,
      { actionKind: ActionKind.TOOL_CALL, tool: 'deploy', environment: 'prod' },
      t0 + 2,
    );
    await decided(
      'acme',
      'r-deploy',
      Verdict.ALLOW,
      { actionKind: ActionKind.TOOL_CALL, tool: 'deploy', environment: 'prod' },
      t0 + 3,
    );
    await decided(
      'acme',
      'r-email',
      Verdict.DENY,
      { actionKind: ActionKind.TOOL_CALL, tool: 'email.send', dataClasses: [DataClass.PII] },
      t0 + 4,
    );
    await decided(
      'other',
      'r-other',
      Verdict.ALLOW,
      { actionKind: ActionKind.TOOL_CALL, tool: 'web.search', dataClasses: [DataClass.PII] },
      t0 + 5,
    );

    const report = await eventually(
      async () => {
        const r = await call('GET', '/bundles/shadow/report', undefined, 'auditor');
        return r.body.evaluated === 3 ? r.body : undefined;
      },
      30_000,
      'three shadow decisions projected',
    );
    expect(report).toMatchObject({
      shadowVersion: '2.0.0',
      evaluated: 3,
      agreed: 2,
      flipped: 1,
      byTransition: { 'allow->deny': 1 },
      byRule: [{ ruleId: 'pii-in-search', flips: 1, agreements: 0 }],
      recentFlips: [
        {
          requestId: 'r-search',
          liveVerdict: 'allow',
          activeVersion: '1.0.0',
          from: 'allow',
          to: 'deny',
          rules: ['pii-in-search'],
        },
      ],
    });
    const shadowEvents = recorder.events(Topic.policyShadow);
    expect(shadowEvents.every((e) => e.type === 'warden.policy.v1.ShadowDecisionRecorded')).toBe(true);

    const whatIf = await call('POST', '/bundles/what-if', { version: '2.0.0', from: t0, to: t0 + 10 }, 'auditor');
    expect(whatIf.status).toBe(200);
    expect(whatIf.body).toMatchObject({
      candidateVersion: '2.0.0',
      evaluated: 3,
      agreed: 2,
      flipped: 1,
      byRule: { 'pii-in-search': 1 },
      byTransition: { 'allow->deny': 1 },
      flips: [
        {
          requestId: 'r-search',
          decisionId: 'd-r-search',
          liveVerdict: 'allow',
          from: 'allow',
          to: 'deny',
          rules: ['pii-in-search'],
        },
      ],
    });
    const unpublished = {
      ...v2,
      version: '3.0.0-draft',
      rules: v2.rules.filter((r: { id: string }) => r.id !== 'prod-deploy-approval'),
      tests: [],
    };
    const draft = await call(
      'POST',
      '/bundles/what-if',
      { bundle: unpublished, from: new Date(t0).toISOString(), to: t0 + 10 },
      'auditor',
    );
    expect(draft.body).toMatchObject({
      candidateVersion: '3.0.0-draft',
      evaluated: 3,
      flipped: 2,
      byRule: { 'pii-in-search': 1, 'prod-deploy-approval': 1 },
    });
    expect(draft.body.byTransition).toEqual({ 'allow->deny': 1, 'require_approval->allow': 1 });
    const window = await call('POST', '/bundles/what-if', { version: '2.0.0', from: t0 + 2, to: t0 + 4 }, 'auditor');
    expect(window.body).toMatchObject({ evaluated: 1, flipped: 0 });
    const badDraft = await call(
      'POST',
      '/bundles/what-if',
      { bundle: { ...v2, rules: [{ id: 'r', when: 'now +', effect: 'deny' }], tests: [] }, from: t0 },
      'auditor',
    );
    expect(badDraft.body).toMatchObject({ status: 400, code: 'cel_error', field: 'bundle.rules[0].when' });

    expect((await call('POST', '/bundles/2.0.0/activate', {})).status).toBe(200);
    expect((await call('POST', '/bundles/rollback', { toVersion: '2.0.0', reason: 'x' })).body).toMatchObject({
      status: 409,
      code: 'not_earlier',
    });
    const rolledBack = await call('POST', '/bundles/rollback', {
      toVersion: '1.0.0',
      reason: 'v2 blocks research agents',
    });
    expect(rolledBack.body).toMatchObject({ event: 'PolicyBundleRolledBack', toVersion: '1.0.0' });
    expect((await call('GET', '/bundles', undefined, 'auditor')).body.activeVersion).toBe('1.0.0');
    expect((await call('DELETE', '/bundles/shadow')).body).toMatchObject({ event: 'ShadowBundleCleared' });
    await eventually(
      () => recorder.events(Topic.policyEvents).some((e) => e.type === 'warden.policy.v1.PolicyBundleRolledBack'),
      20_000,
      'the rollback on policy.events',
    );
  });
});
