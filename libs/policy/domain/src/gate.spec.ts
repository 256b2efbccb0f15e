import { createPublicKey, verify } from 'node:crypto';
import {
  ActionKind,
  AgentRegisteredSchema,
  AgentCredentialRevokedSchema,
  AgentSuspendedSchema,
  ApprovalDeniedSchema,
  ApprovalExpiredSchema,
  ApprovalGrantedSchema,
  create,
  DataClass,
  DelegationGrantedSchema,
  DelegationRevokedSchema,
  Effect,
  GateDecided,
  MessageInitShape,
  KillSwitchEngagedSchema,
  MemoryClass,
  RiskClass,
  ScopeSchema,
  SigningKeyRetiredSchema,
  StandingApprovalGrantedSchema,
  ToolContractWithdrawnSchema,
  Verdict,
} from '@warden/contracts';
import { isMessage } from '@bufbuild/protobuf';
import { given } from '@warden/kernel';
import { CompiledBundle, RuleInput, RuleVerdict } from './bundles/api';
import {
  agentToken,
  decisionKey,
  ed25519,
  NOW,
  registryEvents,
  registryOf,
  request,
  reservation,
  view,
} from './gate.fixtures';
import { gate, GateCommand } from './gate';
import { GateView } from './gate-view';

const decide = (over: Partial<Extract<GateCommand, { type: 'DecideGate' }>> = {}): GateCommand => ({
  type: 'DecideGate',
  request: request(),
  reservation: reservation(),
  view: view(),
  decisionId: 'dec-1',
  now: NOW,
  ...over,
});
const decided = (cmd: GateCommand, history: GateDecided[] = []) => {
  const [d] = given(gate, history).when(cmd).thenEvents();
  return { verdict: Verdict[d.verdict], reason: d.reason, d, ids: d.context!.evaluations.map((e) => e.policyId) };
};
const withSwitch = (s: MessageInitShape<typeof KillSwitchEngagedSchema> = {}): GateView =>
  view({
    switches: new Map([
      [
        'ks-1',
        create(KillSwitchEngagedSchema, {
          switchId: 'ks-1',
          engagedBy: 'sam',
          reason: 'incident',
          ...s,
        } as MessageInitShape<typeof KillSwitchEngagedSchema>),
      ],
    ]),
  });
const bundle =
  (verdicts: (input: RuleInput) => RuleVerdict[]): ((t: string, n: number) => CompiledBundle) =>
  () => ({
    bundleId: 'b',
    tenantId: 'acme',
    version: '7',
    digest: 'sha256:b7',
    evaluate: verdicts,
  });
const rule = (ruleId: string, result: RuleVerdict['result'], risk = 0): RuleVerdict => ({
  ruleId,
  version: '7',
  result,
  risk,
  reason: `${ruleId} ${result}`,
});

describe('admission: allow', () => {
  it('allows with every stage recorded in order, the risk, the versions, the reservation and a token', () => {
    const { verdict, d, ids } = decided(decide({ reservation: reservation({ hints: ['use a cheaper model'] }) }));
    expect(verdict).toBe('ALLOW');
    expect(d.final).toBe(true);
    expect(ids).toEqual([
      'warden.deadline',
      'warden.killswitch',
      'warden.registry.agent',
      'warden.registry.environment',
      'warden.registry.tool',
      'warden.registry.contract-pin',
      'warden.registry.signature',
      'warden.idempotency',
      'warden.contract.input',
      'warden.contract.data-classes',
      'warden.contract.prohibitions',
      'warden.rules',
      'warden.risk',
      'warden.autonomy',
      'warden.approval',
      'warden.budget',
    ]);
    expect(d.context!.riskScore).toBe(10);
    expect(d.context!.riskClass).toBe(RiskClass.LOW);
    expect(d.context!.versions).toMatchObject({
      registryOffset: 9,
      killswitchOffset: 3,
      activityOffset: 5,
      bundlesOffset: 2,
      contractVersion: '1',
      contractDigest: 'sha256:payroll-1',
    });
    expect(d.context!.reservation).toMatchObject({ reservationId: 'res-1', granted: true, reservedTokens: 100 });
    expect(d.hints).toEqual(['use a cheaper model']);
    expect(d.tokenExpiresAtMs).toBe(NOW + 30_000);
    expect(d.decisionTokenKid).toBe('dt-1');
  });

  it('signs a decision token in the ADR 0009 format, bound to agent, tool, action, arguments, request and expiry', () => {
    const { d } = decided(decide());
    const [h, p, s] = d.decisionToken.split('.');
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'EdDSA', kid: 'dt-1', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(p, 'base64url').toString())).toEqual({
      iss: 'warden-policy',
      aud: 'payroll',
      sub: 'payroll-bot',
      tenant: 'acme',
      act: 'read',
      args: 'sha256:args-1',
      rid: 'req-1',
      run: 'run-1',
      jti: 'dec-1',
      iat: Math.floor(NOW / 1000),
      exp: Math.floor((NOW + 30_000) / 1000),
    });
    const publicKey = createPublicKey({ key: JSON.parse(decisionKey.publicJwk), format: 'jwk' });
    expect(verify(null, Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, 'base64url'))).toBe(true);
  });

  it('is deterministic: the same command on the same state gives the identical decision, token included', () => {
    expect(decided(decide()).d).toEqual(decided(decide()).d);
  });

  it('fails closed without a decision-token key: no allow without a token', () => {
    const { verdict, reason, ids } = decided(decide({ view: view({ signer: undefined }) }));
    expect(verdict).toBe('DENY');
    expect(reason).toContain('no decision-token signing key');
    expect(ids.at(-1)).toBe('warden.decision-token');
  });
});

describe('admission: short-circuits in order', () => {
  it('decides expired past the deadline before anything else, even under a kill switch', () => {
    const { verdict, ids } = decided(decide({ now: NOW + 1001, view: withSwitch({}) }));
    expect(verdict).toBe('EXPIRED');
    expect(ids).toEqual(['warden.deadline']);
  });

  it('denies under a kill switch before the registry is consulted', () => {
    const { verdict, reason, d, ids } = decided(
      decide({
        request: request({ agentId: 'nobody' }),
        view: withSwitch({ scope: create(ScopeSchema, { tenantId: 'acme' }) }),
      }),
    );
    expect(verdict).toBe('DENY');
    expect(reason).toBe('kill switch ks-1 (tenantId=acme, stop_run) engaged by sam: incident');
    expect(ids).toEqual(['warden.deadline', 'warden.killswitch']);
    expect(d.context!.killSwitchIds).toEqual(['ks-1']);
  });

  it.each([
    ['unknown agent', { agentId: 'nobody' }, 'warden.registry.agent', 'not registered in tenant acme'],
    ['agent of another tenant', { tenantId: 'globex' }, 'warden.registry.agent', 'not registered in tenant globex'],
    ['draft agent', { agentId: 'idle-bot' }, 'warden.registry.agent', 'is draft, not active'],
    ['wrong environment', { environment: 'staging' }, 'warden.registry.environment', 'environment staging'],
    ['tool not granted', { tool: 'deploy' }, 'warden.registry.tool', 'tool deploy is not allowed'],
    ['action outside the envelope', { action: 'delete' }, 'warden.registry.tool', 'outside the agent'],
    ['no agent token', { agentToken: '' }, 'warden.registry.signature', 'carries no agent token'],
    [
      'token of another agent',
      { agentToken: agentToken({ sub: 'helper-bot' }) },
      'warden.registry.signature',
      'wrong_agent',
    ],
    [
      'token of another tenant',
      { agentToken: agentToken({ tenant: 'globex' }) },
      'warden.registry.signature',
      'tenant globex',
    ],
    [
      'expired token',
      { agentToken: agentToken({ exp: Math.floor(NOW / 1000) - 10 }) },
      'warden.registry.signature',
      'expired',
    ],
    [
      'token signed by another key',
      { agentToken: agentToken({}, ed25519().privateKey) },
      'warden.registry.signature',
      'does not verify',
    ],
    [
      'token with an unknown kid',
      { agentToken: agentToken({}, undefined, 'zz') },
      'warden.registry.signature',
      'no live agent-token key zz',
    ],
    [
      'token for another audience',
      { agentToken: agentToken({ aud: 'x' }) },
      'warden.registry.signature',
      'wrong_audience',
    ],
    ['garbage token', { agentToken: 'a.b' }, 'warden.registry.signature', 'compact JWS of three parts'],
  ])('denies on the registry stage: %s', (_name, over, id, reason) => {
    const { verdict, reason: actual, ids } = decided(decide({ request: request(over) }));
    expect(verdict).toBe('DENY');
    expect(actual).toContain(reason);
    expect(ids.at(-1)).toBe(id);
  });

  it('denies a token whose credential or key was revoked since it was issued', () => {
    const revoked = registryOf([
      ...registryEvents(),
      create(AgentCredentialRevokedSchema, { agentId: 'payroll-bot', tenantId: 'acme', credentialId: 'cred-1' }),
    ]);
    expect(decided(decide({ view: view({}, revoked) })).reason).toBe('credential cred-1 is revoked');
    const retired = registryOf([...registryEvents(), create(SigningKeyRetiredSchema, { kid: 'at-1' })]);
    expect(decided(decide({ view: view({}, retired) })).reason).toBe(
      'agent token refused (unknown_key): no live agent-token key at-1',
    );
  });

  it('accepts an unsigned request only where agent tokens are optional, and still checks a present one', () => {
    const optional = view({ settings: { decisionTokenTtlMs: 1000, agentTokens: 'optional' } });
    expect(decided(decide({ request: request({ agentToken: '' }), view: optional })).verdict).toBe('ALLOW');
    expect(decided(decide({ request: request({ agentToken: 'x.y.z' }), view: optional })).verdict).toBe('DENY');
  });

  it('denies an agent that is suspended after registration', () => {
    const suspended = registryOf([
      ...registryEvents(),
      create(AgentSuspendedSchema, { agentId: 'payroll-bot', tenantId: 'acme', version: 3 }),
    ]);
    expect(decided(decide({ view: view({}, suspended) })).reason).toContain('is suspended, not active');
  });

  it('denies a request against an unpinned, changed or withdrawn definition (the rug-pull defence)', () => {
    const events = registryEvents();
    const unpinned = events.map((e) => {
      if (!isMessage(e, AgentRegisteredSchema) || !e.profile) return e;
      const tools = e.profile.tools.map((t) => ({ ...t, definitionDigest: 'sha256:old' }));
      return { ...e, profile: { ...e.profile, tools } };
    });
    const changed = decided(decide({ view: view({}, registryOf(unpinned)) }));
    expect(changed.verdict).toBe('DENY');
    expect(changed.reason).toContain('unpinned or changed definition');
    expect(changed.ids.at(-1)).toBe('warden.registry.contract-pin');
    const noContract = registryOf(events.filter((e) => e.$typeName !== 'warden.registry.v1.ToolContractPublished'));
    expect(decided(decide({ view: view({}, noContract) })).reason).toContain('no published contract version');
    const withdrawn = registryOf([
      ...events,
      create(ToolContractWithdrawnSchema, { tenantId: 'acme', tool: 'payroll', version: '1' }),
    ]);
    expect(decided(decide({ view: view({}, withdrawn) })).reason).toContain('was withdrawn');
  });

  it('requires a live delegation grant for a request on behalf of a subject', () => {
    const grant = create(DelegationGrantedSchema, {
      grantId: 'g-1',
      tenantId: 'acme',
      agentId: 'payroll-bot',
      subject: 'alice',
      scopes: ['payroll:read'],
      expiresAtMs: NOW + 60_000,
    });
    const onBehalf = request({ onBehalfOf: 'alice' });
    expect(decided(decide({ request: onBehalf })).ids.at(-1)).toBe('warden.registry.delegation-grant');
    const granted = registryOf([...registryEvents(), grant]);
    expect(decided(decide({ request: onBehalf, view: view({}, granted) })).verdict).toBe('ALLOW');
    const outOfScope = request({ onBehalfOf: 'alice', action: 'draft' });
    expect(decided(decide({ request: outOfScope, view: view({}, granted) })).verdict).toBe('DENY');
    const late = request({ onBehalfOf: 'alice', deadlineMs: NOW + 120_000 });
    expect(decided(decide({ request: late, view: view({}, granted), now: NOW + 60_000 })).reason).toContain(
      'no live grant',
    );
    const revoked = registryOf([
      ...registryEvents(),
      grant,
      create(DelegationRevokedSchema, { grantId: 'g-1', tenantId: 'acme', agentId: 'payroll-bot', subject: 'alice' }),
    ]);
    expect(decided(decide({ request: onBehalf, view: view({}, revoked) })).reason).toContain('no live grant');
  });

  it('answers already_completed when the idempotency key was completed, naming the completing request', () => {
    const { verdict, d } = decided(
      decide({ request: request({ requestId: 'req-retry', attempt: 2 }), view: view({ completedBy: () => 'req-0' }) }),
    );
    expect(verdict).toBe('ALREADY_COMPLETED');
    expect(d.completedByRequestId).toBe('req-0');
    expect(d.decisionToken).toBe('');
    expect(d.final).toBe(true);
  });

  it.each([
    [
      'arguments missing a required property',
      { redactedArguments: {} },
      'warden.contract.input',
      "must have required property 'employee'",
    ],
    [
      'arguments of the wrong shape',
      { redactedArguments: { employee: 'bob' } },
      'warden.contract.input',
      'must match pattern',
    ],
    [
      'a data class the tool may not receive',
      { dataClasses: [DataClass.PHI] },
      'warden.contract.data-classes',
      'may not receive phi',
    ],
    [
      'a prohibited call',
      { redactedArguments: { employee: 'E1', amount: 20000 } },
      'warden.contract.prohibition.no-large-payments',
      'never pay more',
    ],
    ['an action the contract does not offer', { action: 'fire' }, 'warden.registry.tool', 'outside'],
  ])('denies on the contract stage: %s', (_name, over, id, reason) => {
    const { verdict, reason: actual, ids } = decided(decide({ request: request(over) }));
    expect(verdict).toBe('DENY');
    expect(actual).toContain(reason);
    expect(ids.at(-1)).toBe(id);
  });

  it('does not type-check a redacted value, but still requires the property', () => {
    const redacted = request({ redactedArguments: { employee: '[redacted]', apiKey: '[redacted]' } });
    expect(decided(decide({ request: redacted })).verdict).toBe('ALLOW');
    expect(decided(decide({ request: request({ redactedArguments: { apiKey: '[redacted]' } }) })).verdict).toBe('DENY');
  });

  const memory = (kind: ActionKind, store: string, memoryClass: MemoryClass) =>
    request({ actionKind: kind, tool: '', action: '', memoryStore: store, memoryClass });
  it.each([
    ['read own session notes', memory(ActionKind.MEMORY_READ, 'notes', MemoryClass.SESSION), 'ALLOW', ''],
    ['write own session notes', memory(ActionKind.MEMORY_WRITE, 'notes', MemoryClass.SESSION), 'ALLOW', ''],
    ['read shared kb', memory(ActionKind.MEMORY_READ, 'kb', MemoryClass.SHARED), 'ALLOW', ''],
    [
      'write read-only shared kb',
      memory(ActionKind.MEMORY_WRITE, 'kb', MemoryClass.SHARED),
      'DENY',
      'may not write kb',
    ],
    [
      'forbidden durable class',
      memory(ActionKind.MEMORY_WRITE, 'notes', MemoryClass.DURABLE),
      'DENY',
      'durable is forbidden',
    ],
    [
      'unknown store',
      memory(ActionKind.MEMORY_READ, 'secrets', MemoryClass.WORKING),
      'DENY',
      'no access to memory store',
    ],
  ])('applies the memory policy: %s', (_name, r, verdict, reason) => {
    const out = decided(decide({ request: r }));
    expect(out.verdict).toBe(verdict);
    expect(out.reason).toContain(reason);
  });

  const delegation = (to: string) =>
    request({ actionKind: ActionKind.DELEGATION, tool: '', action: '', delegateToAgentId: to });
  it.each([
    ['to an allowed active agent', 'helper-bot', 'ALLOW', ''],
    ['to an agent not in delegates_to', 'payroll-bot', 'DENY', 'may not delegate to payroll-bot'],
    ['to an allowed agent that is not active', 'idle-bot', 'DENY', 'is draft, not active'],
    ['without a delegate', '', 'DENY', 'must name delegate_to_agent_id'],
  ])('checks delegation: %s', (_name, to, verdict, reason) => {
    const out = decided(decide({ request: delegation(to) }));
    expect(out.verdict).toBe(verdict);
    expect(out.reason).toContain(reason);
  });

  it('evaluates rules with the request, agent, contract and run history; a rule deny or error decides', () => {
    let seen: RuleInput | undefined;
    const rules = bundle((input) => {
      seen = input;
      return [rule('r-ok', 'no_match'), rule('r-no', 'deny', 5), rule('r-late', 'allow')];
    });
    const { verdict, reason, d, ids } = decided(decide({ view: view({ bundleFor: rules }) }));
    expect(verdict).toBe('DENY');
    expect(reason).toBe('r-no deny');
    expect(ids.slice(-2)).toEqual(['r-ok', 'r-no']);
    expect(d.context!.versions!.policyBundleVersion).toBe('7');
    expect(seen!.request).toMatchObject({
      tool: 'payroll',
      action: 'read',
      actionKind: 'tool_call',
      dataClasses: ['internal'],
    });
    expect(seen!.action).toEqual({ name: 'read', riskClass: 'low', requiresApproval: false });
    expect(seen!.now).toBe(NOW);
    const erring = bundle(() => [rule('r-bad', 'error')]);
    expect(decided(decide({ view: view({ bundleFor: erring }) })).reason).toContain('could not be evaluated');
  });
});

describe('admission: risk and approval', () => {
  it('scores risk from the action class plus the rules, and asks approval for critical risk', () => {
    const risky = bundle(() => [rule('r-risk', 'allow', 75)]);
    const { verdict, d, reason } = decided(decide({ view: view({ bundleFor: risky }) }));
    expect(d.context!.riskScore).toBe(85);
    expect(d.context!.riskClass).toBe(RiskClass.CRITICAL);
    expect(verdict).toBe('PENDING_APPROVAL');
    expect(d.final).toBe(false);
    expect(d.decisionToken).toBe('');
    expect(reason).toBe(
      'approval required: autonomy level 4 (fully autonomous within budgets): a critical-risk tool call needs approval; critical risk',
    );
  });

  it.each([
    ['a critical action', { request: request({ action: 'pay' }) }, 'critical risk'],
    [
      'a contract action that requires approval',
      { request: request({ action: 'approve' }) },
      'payroll.approve requires approval',
    ],
    [
      'a rule',
      { view: view({ bundleFor: bundle(() => [rule('r-ask', 'require_approval')]) }) },
      'r-ask require_approval',
    ],
    [
      'the budget threshold',
      { reservation: reservation({ approvalRequired: true, approvalReason: 'spend at 91%' }) },
      'spend at 91%',
    ],
  ])('requires approval for %s', (_name, over, reason) => {
    const out = decided(decide(over));
    expect(out.verdict).toBe('PENDING_APPROVAL');
    expect(out.reason).toContain(reason);
  });

  it('lets a later deny win over a required approval (budget refused)', () => {
    const out = decided(
      decide({ request: request({ action: 'pay' }), reservation: reservation({ granted: false, reason: 'spent' }) }),
    );
    expect(out.verdict).toBe('DENY');
    expect(out.reason).toBe('budget refused: spent');
  });

  it('allows a critical action a standing approval covers, and records which one', () => {
    const standing = new Map([
      [
        'sa-1',
        {
          grant: create(StandingApprovalGrantedSchema, {
            standingId: 'sa-1',
            tenantId: 'acme',
            tool: 'payroll',
            actions: ['pay'],
            maxRiskClass: RiskClass.CRITICAL,
            maxUses: 2,
            expiresAtMs: NOW + 1000,
          }),
          revoked: false,
          exhausted: false,
          uses: 1,
        },
      ],
    ]);
    const pay = request({ action: 'pay' });
    const out = decided(decide({ request: pay, view: view({ standing }) }));
    expect(out.verdict).toBe('ALLOW');
    expect(out.d.context!.approval!.standingApprovalId).toBe('sa-1');
    const used = new Map([['sa-1', { ...standing.get('sa-1')!, uses: 2 }]]);
    expect(decided(decide({ request: pay, view: view({ standing: used }) })).verdict).toBe('PENDING_APPROVAL');
    expect(decided(decide({ request: pay, view: view({ standing }), now: NOW + 1000 })).verdict).toBe(
      'PENDING_APPROVAL',
    );
    const lower = new Map([
      ['sa-1', { ...standing.get('sa-1')!, grant: { ...standing.get('sa-1')!.grant, maxRiskClass: RiskClass.HIGH } }],
    ]);
    expect(decided(decide({ request: pay, view: view({ standing: lower }) })).verdict).toBe('PENDING_APPROVAL');
  });

  it('denies budget refusals last', () => {
    const out = decided(decide({ reservation: reservation({ granted: false, reason: 'run token budget exhausted' }) }));
    expect(out.verdict).toBe('DENY');
    expect(out.ids.at(-1)).toBe('warden.budget');
  });
});

describe('kill-switch effects', () => {
  const scope = create(ScopeSchema, { agentId: 'payroll-bot' });
  it.each([
    [
      'STOP_RUN denies a model call',
      [Effect.STOP_RUN],
      request({ actionKind: ActionKind.MODEL_CALL, tool: '', action: '' }),
      'DENY',
    ],
    ['REVOKE_TOOLS denies a tool call', [Effect.REVOKE_TOOLS], request(), 'DENY'],
    [
      'REVOKE_TOOLS lets a model call through',
      [Effect.REVOKE_TOOLS],
      request({ actionKind: ActionKind.MODEL_CALL, tool: '', action: '' }),
      'ALLOW',
    ],
    [
      'FREEZE_MEMORY_WRITES denies a write',
      [Effect.FREEZE_MEMORY_WRITES],
      request({
        actionKind: ActionKind.MEMORY_WRITE,
        tool: '',
        action: '',
        memoryStore: 'notes',
        memoryClass: MemoryClass.SESSION,
      }),
      'DENY',
    ],
    [
      'FREEZE_MEMORY_WRITES lets a read through',
      [Effect.FREEZE_MEMORY_WRITES],
      request({
        actionKind: ActionKind.MEMORY_READ,
        tool: '',
        action: '',
        memoryStore: 'notes',
        memoryClass: MemoryClass.SESSION,
      }),
      'ALLOW',
    ],
    ['PREVENT_RETRIES denies attempt 2', [Effect.PREVENT_RETRIES], request({ attempt: 2 }), 'DENY'],
    ['PREVENT_RETRIES lets attempt 1 through', [Effect.PREVENT_RETRIES], request({ attempt: 1 }), 'ALLOW'],
    [
      'BLOCK_DELEGATION denies a delegation from the agent',
      [Effect.BLOCK_DELEGATION],
      request({ actionKind: ActionKind.DELEGATION, tool: '', action: '', delegateToAgentId: 'helper-bot' }),
      'DENY',
    ],
    [
      'only non-policy effects let everything through',
      [Effect.PRESERVE_TRACES, Effect.NOTIFY_OWNER, Effect.SAFE_STATE],
      request(),
      'ALLOW',
    ],
    [
      'no effects listed means all eight',
      [],
      request({ actionKind: ActionKind.MODEL_CALL, tool: '', action: '' }),
      'DENY',
    ],
  ])('%s', (_name, effects, r, verdict) => {
    expect(decided(decide({ request: r, view: withSwitch({ scope, effects }) })).verdict).toBe(verdict);
  });

  it('BLOCK_DELEGATION also denies a delegation to an agent in scope', () => {
    const toHelper = request({
      actionKind: ActionKind.DELEGATION,
      tool: '',
      action: '',
      delegateToAgentId: 'helper-bot',
    });
    const helperScope = create(ScopeSchema, { agentId: 'helper-bot' });
    const out = decided(
      decide({ request: toHelper, view: withSwitch({ scope: helperScope, effects: [Effect.BLOCK_DELEGATION] }) }),
    );
    expect(out.verdict).toBe('DENY');
    expect(out.reason).toContain('block_delegation');
    expect(decided(decide({ view: withSwitch({ scope: helperScope }) })).verdict).toBe('ALLOW');
  });

  it('ignores a switch past its expiry', () => {
    expect(decided(decide({ view: withSwitch({ expiresAtMs: NOW }) })).verdict).toBe('ALLOW');
  });
});

describe('duplicates and approval resolution', () => {
  const pendingCmd = decide({ request: request({ action: 'approve' }) });
  const pending = () => decided(pendingCmd).d;
  const grant = (over: MessageInitShape<typeof ApprovalGrantedSchema> = {}) =>
    create(ApprovalGrantedSchema, {
      taskId: 'task-1',
      requestId: 'req-1',
      runId: 'run-1',
      argumentsDigest: 'sha256:args-1',
      approvedBy: 'carol',
      approvers: ['carol'],
      policyVersion: '',
      expiresAtMs: NOW + 60_000,
      ...over,
    } as MessageInitShape<typeof ApprovalGrantedSchema>);
  const resolve = (resolution: Parameters<typeof create>[1] & object, over: Partial<GateCommand> = {}): GateCommand =>
    ({
      type: 'ResolveApproval',
      resolution,
      view: view(),
      decisionId: 'dec-2',
      now: NOW + 5000,
      ...over,
    }) as GateCommand;

  it('answers a duplicate request id with the very same decision, never a second one', () => {
    const first = decided(decide()).d;
    given(gate, [first])
      .when(decide({ decisionId: 'dec-9', view: withSwitch({}), now: NOW + 10 }))
      .then([first]);
  });

  it('emits the final allow for a pending request when its approval is granted, with a token and the approval', () => {
    const { verdict, d } = decided(resolve(grant()), [pending()]);
    expect(verdict).toBe('ALLOW');
    expect(d.final).toBe(true);
    expect(d.requestId).toBe('req-1');
    expect(d.decisionId).toBe('dec-2');
    expect(d.context!.approval).toMatchObject({ taskId: 'task-1', approvedBy: 'carol', resolvedAtMs: NOW + 5000 });
    expect(d.context!.evaluations.map((e) => e.policyId)).toContain('warden.approval.binding');
    expect(d.decisionToken).not.toBe('');
    expect(d.tokenExpiresAtMs).toBe(NOW + 35_000);
  });

  it('re-checks at resolution: a kill switch engaged while waiting denies the grant', () => {
    const out = decided(resolve(grant(), { view: withSwitch({}) }), [pending()]);
    expect(out.verdict).toBe('DENY');
    expect(out.reason).toContain('kill switch ks-1');
  });

  it('re-checks at resolution: an agent suspended while waiting is denied', () => {
    const suspended = registryOf([
      ...registryEvents(),
      create(AgentSuspendedSchema, { agentId: 'payroll-bot', tenantId: 'acme', version: 3 }),
    ]);
    expect(decided(resolve(grant(), { view: view({}, suspended) }), [pending()]).verdict).toBe('DENY');
  });

  const bundleAt = (version: string, verdicts: (input: RuleInput) => RuleVerdict[]) => () =>
    ({ bundleId: 'b', tenantId: 'acme', version, digest: `sha256:b${version}`, evaluate: verdicts }) as CompiledBundle;
  const asks = (input: RuleInput) =>
    input.request.action === 'approve' ? [{ ...rule('r-ask', 'require_approval'), version: '7' }] : [];

  it('re-evaluates at resolution: a deny rule activated while the request waited denies the grant, naming it', () => {
    const v7 = view({ bundleFor: bundleAt('7', asks) });
    const waiting = decided(decide({ request: request({ action: 'approve' }), view: v7 })).d;
    expect(Verdict[waiting.verdict]).toBe('PENDING_APPROVAL');
    const v8 = view({
      bundleFor: bundleAt('8', (input) => [
        ...asks(input),
        { ruleId: 'no-approvals-today', version: '8', result: 'deny', risk: 0, reason: 'payroll approvals are frozen' },
      ]),
    });
    // New requests are denied by v8 ...
    expect(decided(decide({ request: request({ requestId: 'req-new', action: 'approve' }), view: v8 })).verdict).toBe(
      'DENY',
    );
    // ... and so is the one that waited under v7, though its approval was granted under v7.
    const { verdict, reason, d, ids } = decided(resolve(grant({ policyVersion: '7' }), { view: v8 }), [waiting]);
    expect(verdict).toBe('DENY');
    expect(reason).toBe(
      'the verdict changed while the request waited for approval: rule no-approvals-today of policy bundle 8 denies: payroll approvals are frozen',
    );
    expect(ids.at(-1)).toBe('no-approvals-today');
    expect(d.context!.evaluations.at(-1)).toMatchObject({
      policyId: 'no-approvals-today',
      version: '8',
      result: 'deny',
    });
    expect(d.context!.versions!.policyBundleVersion).toBe('8');
    expect(d.decisionToken).toBe('');
    // Under the same policy the grant stands: the final decision allows, recorded under v7.
    const same = decided(resolve(grant({ policyVersion: '7' }), { view: v7 }), [waiting]);
    expect(same.verdict).toBe('ALLOW');
    expect(same.d.context!.versions!.policyBundleVersion).toBe('7');
    expect(same.ids).toEqual(expect.arrayContaining(['r-ask', 'warden.autonomy', 'warden.approval.binding']));
  });

  it('re-evaluates at resolution: an autonomy level lowered while the request waited denies the grant', () => {
    const level0 = registryOf(
      registryEvents(4).map((e) =>
        isMessage(e, AgentRegisteredSchema) && e.profile ? { ...e, profile: { ...e.profile, autonomyLevel: 0 } } : e,
      ),
    );
    const out = decided(resolve(grant(), { view: view({}, level0) }), [pending()]);
    expect(out.verdict).toBe('DENY');
    expect(out.reason).toBe(
      'the verdict changed while the request waited for approval: warden.autonomy (builtin-2) denies: autonomy level 0 (suggest only): a medium-risk tool call is not allowed',
    );
  });

  it.each([
    ['other arguments', { argumentsDigest: 'sha256:other' }, 'the approval is for arguments sha256:other'],
    ['another policy version', { policyVersion: '8' }, 'bound to policy version 8'],
    ['an expired approval', { expiresAtMs: NOW + 5000 }, 'the approval expired'],
  ])('never lets an approval authorise %s', (_name, over, reason) => {
    const out = decided(resolve(grant(over)), [pending()]);
    expect(out.verdict).toBe('DENY');
    expect(out.reason).toContain(reason);
  });

  it('denies on ApprovalDenied and expires on ApprovalExpired', () => {
    const denied = create(ApprovalDeniedSchema, {
      taskId: 'task-1',
      requestId: 'req-1',
      deniedBy: 'dan',
      comment: 'no',
    });
    expect(decided(resolve(denied), [pending()])).toMatchObject({
      verdict: 'DENY',
      reason: 'approval denied by dan: no',
    });
    const expired = create(ApprovalExpiredSchema, { taskId: 'task-1', requestId: 'req-1' });
    expect(decided(resolve(expired), [pending()]).verdict).toBe('EXPIRED');
  });

  it('resolves once: a second grant, or a grant for an unknown or already final request, changes nothing', () => {
    const final = decided(resolve(grant()), [pending()]).d;
    given(gate, [pending(), final]).when(resolve(grant())).then([]);
    given(gate, []).when(resolve(grant())).then([]);
    given(gate, [decided(decide()).d])
      .when(resolve(grant()))
      .then([]);
    given(gate, [pending(), final]).when(pendingCmd).then([final]);
  });

  it('keeps the run history of allowed steps for temporal rules', () => {
    const first = decided(decide()).d;
    let seen: RuleInput | undefined;
    const rules = bundle((input) => {
      seen = input;
      return [];
    });
    decided(decide({ request: request({ requestId: 'req-2' }), view: view({ bundleFor: rules }) }), [first]);
    expect(seen!.run.history.map((h) => [h.requestId, h.tool, h.action, h.dataClasses])).toEqual([
      ['req-1', 'payroll', 'read', ['internal']],
    ]);
    expect(seen!.agentHistory.history.map((h) => h.requestId)).toEqual(['req-1']);
  });
});
