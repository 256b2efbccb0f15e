import {
  ActionKind,
  create,
  GateRequestedSchema,
  MemoryClass,
  newProofKey,
  requestProof,
  toJson,
} from '@warden/contracts';
import { DomainError, invalid } from '@warden/kernel';
import {
  AuthzenDecision,
  AuthzenEvaluation,
  authzenField,
  authzenRequest,
  errorDecision,
  evaluateBatch,
  merged,
  parseBatch,
  toAuthzenDecision,
  toGateRequest,
} from './authzen';
import { decodeBody } from './gate-answer';
import { requestToProve } from './gate-request';
import { testAgent } from './test-agent';

const T0 = 1_700_000_000_000;
const context = { requestId: 'r-1', runId: 'run-1', requestedAtMs: T0, deadlineMs: T0 + 5000 };
const evaluation = (over: Partial<AuthzenEvaluation> = {}): AuthzenEvaluation => ({
  subject: { type: 'agent', id: 'bot' },
  action: { name: 'read' },
  resource: { type: 'tool', id: 'kb' },
  context,
  ...over,
});

/** What a call throws, as {kind, code, field}. */
function problem(run: () => unknown): { kind: string; code: string; field?: string } {
  try {
    run();
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return { kind: error.kind, code: error.code, field: error.field };
  }
  throw new Error('no problem was thrown');
}

describe('AuthZEN evaluation -> gate request', () => {
  it('maps subject to agentId (and properties.tenantId to tenantId)', () => {
    const r = toGateRequest(evaluation({ subject: { type: 'agent', id: 'bot', properties: { tenantId: 'acme' } } }));
    expect({ agentId: r.agentId, tenantId: r.tenantId }).toEqual({ agentId: 'bot', tenantId: 'acme' });
    expect(toGateRequest(evaluation()).tenantId).toBe('');
  });

  it('maps a tool resource and the action onto a tool_call of tool.action', () => {
    const r = toGateRequest(evaluation());
    expect({ kind: r.actionKind, tool: r.tool, action: r.action }).toEqual({
      kind: ActionKind.TOOL_CALL,
      tool: 'kb',
      action: 'read',
    });
  });

  it('maps a model resource onto a model_call of that model', () => {
    const r = toGateRequest(evaluation({ resource: { type: 'model', id: 'gpt-x' }, action: { name: 'complete' } }));
    expect({ kind: r.actionKind, model: r.model, action: r.action }).toEqual({
      kind: ActionKind.MODEL_CALL,
      model: 'gpt-x',
      action: 'complete',
    });
  });

  it('maps a memory resource with action read or write onto memory_read / memory_write of the store', () => {
    const memory = { type: 'memory', id: 'notes', properties: { memoryClass: 'session' } };
    const read = toGateRequest(evaluation({ resource: memory, action: { name: 'read' } }));
    expect({ kind: read.actionKind, store: read.memoryStore, cls: read.memoryClass }).toEqual({
      kind: ActionKind.MEMORY_READ,
      store: 'notes',
      cls: MemoryClass.SESSION,
    });
    expect(toGateRequest(evaluation({ resource: memory, action: { name: 'write' } })).actionKind).toBe(
      ActionKind.MEMORY_WRITE,
    );
  });

  it('maps an agent resource onto a delegation to that agent, and a step resource onto a step', () => {
    const d = toGateRequest(evaluation({ resource: { type: 'agent', id: 'helper' }, action: { name: 'summarise' } }));
    expect({ kind: d.actionKind, to: d.delegateToAgentId, action: d.action }).toEqual({
      kind: ActionKind.DELEGATION,
      to: 'helper',
      action: 'summarise',
    });
    const s = toGateRequest(evaluation({ resource: { type: 'step', id: 'plan' }, action: { name: 'think' } }));
    expect({ kind: s.actionKind, action: s.action }).toEqual({ kind: ActionKind.STEP, action: 'think' });
  });

  it('takes every other request field from context, by its protobuf-JSON name', () => {
    const r = toGateRequest(
      evaluation({
        context: {
          ...context,
          arguments: { q: 'refunds' },
          environment: 'prod',
          estimatedTokens: 12,
          estimatedCost: { currency: 'EUR', micros: 3 },
          stepId: 's-1',
          attempt: 2,
          idempotencyKey: 'k-1',
          dataClasses: ['pii'],
          onBehalfOf: 'olga',
          parentStepId: 's-0',
          businessOutcome: 'answer',
          requestProof: 'proof',
        },
      }),
    );
    expect(toJson(GateRequestedSchema, r)).toMatchObject({
      requestId: 'r-1',
      runId: 'run-1',
      arguments: { q: 'refunds' },
      environment: 'prod',
      estimatedTokens: 12,
      estimatedCost: { currency: 'EUR', micros: 3 },
      stepId: 's-1',
      attempt: 2,
      idempotencyKey: 'k-1',
      dataClasses: ['DATA_CLASS_PII'],
      onBehalfOf: 'olga',
      parentStepId: 's-0',
      businessOutcome: 'answer',
      requestProof: 'proof',
    });
    expect(toGateRequest(evaluation({ context: { ...context, model: 'm' } })).model).toBe('m');
  });

  it('is the request POST /v1/gate decodes from the same fields', () => {
    const r = toGateRequest(evaluation({ context: { ...context, arguments: { q: 1 } } }));
    const direct = decodeBody(GateRequestedSchema, {
      agentId: 'bot',
      actionKind: 'tool_call',
      tool: 'kb',
      action: 'read',
      ...context,
      arguments: { q: 1 },
    });
    expect(r).toEqual(direct);
  });

  it.each([
    ['no subject', { subject: undefined }, 'missing_field', 'subject'],
    ['no action', { action: undefined }, 'missing_field', 'action'],
    ['no resource', { resource: undefined }, 'missing_field', 'resource'],
    ['a subject that is not an object', { subject: 'bot' as never }, 'invalid_value', 'subject'],
    ['a context that is not an object', { context: [] as never }, 'invalid_value', 'context'],
    ['a subject that is not an agent', { subject: { type: 'user', id: 'olga' } }, 'invalid_value', 'subject.type'],
    ['no subject id', { subject: { type: 'agent' } }, 'missing_field', 'subject.id'],
    ['an empty action name', { action: { name: '' } }, 'missing_field', 'action.name'],
    ['no resource id', { resource: { type: 'tool' } }, 'missing_field', 'resource.id'],
    ['an unknown resource type', { resource: { type: 'file', id: 'x' } }, 'invalid_value', 'resource.type'],
    [
      'memory with another action',
      { resource: { type: 'memory', id: 'm', properties: { memoryClass: 'session' } }, action: { name: 'delete' } },
      'invalid_value',
      'action.name',
    ],
    [
      'an unknown subject member',
      { subject: { type: 'agent', id: 'bot', role: 'x' } },
      'unknown_field',
      'subject.role',
    ],
    ['an unknown action member', { action: { name: 'read', verb: 'x' } }, 'unknown_field', 'action.verb'],
    [
      'an unknown resource member',
      { resource: { type: 'tool', id: 'kb', owner: 'x' } },
      'unknown_field',
      'resource.owner',
    ],
    [
      'an unknown subject property',
      { subject: { type: 'agent', id: 'bot', properties: { team: 'x' } } },
      'unknown_field',
      'subject.properties.team',
    ],
    [
      'a tool resource with properties',
      { resource: { type: 'tool', id: 'kb', properties: { memoryClass: 'session' } } },
      'unknown_field',
      'resource.properties.memoryClass',
    ],
    ['an unknown context member', { context: { ...context, tol: 'kb' } }, 'unknown_field', 'context.tol'],
    ['a bad context value', { context: { ...context, deadlineMs: 'soon' } }, 'invalid_value', 'context.deadlineMs'],
  ] as [string, Partial<AuthzenEvaluation>, string, string][])('refuses %s, naming %s', (_, over, code, field) => {
    expect(problem(() => toGateRequest(evaluation(over)))).toMatchObject({ kind: 'invalid', code, field });
  });

  it.each(['tenantId', 'agentId', 'actionKind', 'tool', 'action', 'memoryStore', 'memoryClass', 'delegateToAgentId'])(
    'refuses context.%s: it comes from subject, action or resource',
    (key) => {
      expect(problem(() => toGateRequest(evaluation({ context: { ...context, [key]: 'x' } })))).toEqual({
        kind: 'invalid',
        code: 'refused_field',
        field: `context.${key}`,
      });
    },
  );

  it('refuses context.agentToken (the Authorization header carries it) and context.model for a model resource', () => {
    expect(problem(() => toGateRequest(evaluation({ context: { ...context, agentToken: 't' } })))).toMatchObject({
      code: 'refused_field',
      field: 'context.agentToken',
    });
    const model = { resource: { type: 'model', id: 'gpt-x' }, context: { ...context, model: 'other' } };
    expect(problem(() => toGateRequest(evaluation(model)))).toMatchObject({
      code: 'refused_field',
      field: 'context.model',
    });
  });

  it('prefixes the names of a batch entry', () => {
    expect(
      problem(() => toGateRequest(evaluation({ context: { ...context, tol: 1 } }), 'evaluations[2].')),
    ).toMatchObject({ field: 'evaluations[2].context.tol' });
    expect(problem(() => toGateRequest(evaluation({ resource: undefined }), 'evaluations[0].'))).toMatchObject({
      field: 'evaluations[0].resource',
    });
  });
});

describe('authzenRequest: the mapped request checked as POST /v1/gate checks it', () => {
  const key = newProofKey();
  const agent = testAgent(key, 'acme', 'bot');
  const rules = { maxDeadlineMs: 300_000 };
  const provedContext = (e: AuthzenEvaluation) => ({
    ...e.context,
    requestProof: requestProof(requestToProve({ ...toGateRequest(e), tenantId: 'acme' }, agent.token), key),
  });

  it('takes the tenant from the token and accepts the proof of the mapped request', () => {
    const e = evaluation();
    const r = authzenRequest({ ...e, context: provedContext(e) }, agent, rules);
    expect({ tenantId: r.tenantId, agentId: r.agentId, stepId: r.stepId, token: r.agentToken }).toEqual({
      tenantId: 'acme',
      agentId: 'bot',
      stepId: 'r-1',
      token: agent.token,
    });
  });

  it('names the AuthZEN member a gate field came from', () => {
    const { deadlineMs: _, ...noDeadline } = context;
    expect(problem(() => authzenRequest(evaluation({ context: noDeadline }), agent, rules))).toMatchObject({
      code: 'missing_field',
      field: 'context.deadlineMs',
    });
    expect(problem(() => authzenRequest(evaluation(), agent, rules, 'evaluations[1].'))).toMatchObject({
      code: 'missing_field',
      field: 'evaluations[1].context.requestProof',
    });
    const e = evaluation({ action: { name: 'delete' } });
    const wrongProof = { ...e, context: provedContext(evaluation()) };
    expect(problem(() => authzenRequest(wrongProof, agent, rules))).toMatchObject({
      code: 'invalid_value',
      field: 'context.requestProof',
    });
  });

  it("refuses a subject that is not the token's agent (403)", () => {
    expect(problem(() => authzenRequest(evaluation({ subject: { type: 'agent', id: 'eve' } }), agent, rules))).toEqual({
      kind: 'forbidden',
      code: 'wrong_agent',
      field: undefined,
    });
  });
});

describe('authzenField', () => {
  it.each([
    ['agentId', 'subject.id'],
    ['tenantId', 'subject.properties.tenantId'],
    ['tool', 'resource.id'],
    ['memoryStore', 'resource.id'],
    ['delegateToAgentId', 'resource.id'],
    ['action', 'action.name'],
    ['actionKind', 'resource.type'],
    ['memoryClass', 'resource.properties.memoryClass'],
    ['deadlineMs', 'context.deadlineMs'],
    ['estimatedCost.currency', 'context.estimatedCost.currency'],
  ])('names %s as %s', (field, name) => {
    expect(authzenField(field)).toBe(name);
    expect(authzenField(field, 'evaluations[3].')).toBe(`evaluations[3].${name}`);
  });
});

describe('the AuthZEN answer', () => {
  const answer = {
    requestId: 'r-1',
    stepId: 'r-1',
    idempotencyKey: 'run-1:r-1',
    verdict: 'allow' as const,
    allowed: true,
    final: true,
    timedOut: false,
    reason: 'granted',
    hints: ['h'],
    decisionId: 'd-1',
    decisionToken: 'ey.tok',
    tokenExpiresAtMs: T0,
  };

  it('is decision true only on allow, with the verdict, reason and decision token in context', () => {
    expect(toAuthzenDecision(answer)).toEqual({
      decision: true,
      context: {
        id: 'r-1',
        requestId: 'r-1',
        verdict: 'allow',
        final: true,
        timedOut: false,
        reason_admin: { en: 'granted' },
        hints: ['h'],
        decisionId: 'd-1',
        decisionToken: 'ey.tok',
        tokenExpiresAtMs: T0,
      },
    });
  });

  it.each([
    ['deny', { verdict: 'deny', allowed: false }],
    ['pending approval', { verdict: 'pending_approval', allowed: false, final: false, approvalTaskId: 't-1' }],
    ['no decision in time', { verdict: 'deny', allowed: false, timedOut: true }],
  ] as const)('is decision false on %s', (_, over) => {
    const { decisionToken: _t, tokenExpiresAtMs: _e, ...rest } = answer;
    const d = toAuthzenDecision({ ...rest, ...over });
    expect(d.decision).toBe(false);
    const { allowed: _a, ...shown } = over;
    expect(d.context).toMatchObject(shown);
    expect(d.context).not.toHaveProperty('decisionToken');
  });

  it('answers an entry that could not be asked with decision false and the error, field named', () => {
    expect(errorDecision(invalid('unknown_field', 'no such member', 'evaluations[0].context.tol'), 400)).toEqual({
      decision: false,
      context: {
        error: { status: 400, code: 'unknown_field', message: 'no such member', field: 'evaluations[0].context.tol' },
      },
    });
    expect(errorDecision(new DomainError('forbidden', 'wrong_agent', 'not yours'), 403).context.error).toEqual({
      status: 403,
      code: 'wrong_agent',
      message: 'not yours',
    });
  });
});

describe('AuthZEN batches', () => {
  describe('parseBatch', () => {
    it('defaults to execute_all, with the top-level members as defaults', () => {
      const b = parseBatch({ subject: { type: 'agent', id: 'bot' }, evaluations: [{ action: { name: 'read' } }] });
      expect(b).toMatchObject({ semantic: 'execute_all', defaults: { subject: { id: 'bot' } }, evaluations: [{}] });
      expect(parseBatch({}).evaluations).toEqual([]);
    });

    it.each(['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'])('takes %s', (semantic) => {
      expect(parseBatch({ options: { evaluations_semantic: semantic } }).semantic).toBe(semantic);
    });

    it.each([
      ['a body that is not an object', [], 'invalid_value', 'body'],
      ['an unknown member', { evaluation: [] }, 'unknown_field', 'body.evaluation'],
      ['options that are not an object', { options: 'fast' }, 'invalid_value', 'options'],
      ['an unknown option', { options: { parallel: true } }, 'unknown_field', 'options.parallel'],
      [
        'an unknown semantic',
        { options: { evaluations_semantic: 'first_match' } },
        'invalid_value',
        'options.evaluations_semantic',
      ],
      ['evaluations that are not an array', { evaluations: {} }, 'invalid_value', 'evaluations'],
      ['an entry that is not an object', { evaluations: [{}, 3] }, 'invalid_value', 'evaluations[1]'],
      [
        'an entry with an unknown member',
        { evaluations: [{ options: {} }] },
        'unknown_field',
        'evaluations[0].options',
      ],
    ])('refuses %s, naming %s', (_, body, code, field) => {
      expect(problem(() => parseBatch(body))).toMatchObject({ kind: 'invalid', code, field });
    });
  });

  it('merges each entry over the defaults, member by member (a member is replaced, not merged)', () => {
    const defaults = evaluation();
    expect(merged(defaults, { action: { name: 'write' } })).toEqual({ ...defaults, action: { name: 'write' } });
    expect(merged(defaults, { context: { runId: 'r' } }).context).toEqual({ runId: 'r' });
    expect(merged(defaults, {})).toEqual(defaults);
  });

  describe('evaluateBatch', () => {
    const allow: AuthzenDecision = { decision: true, context: {} };
    const deny: AuthzenDecision = { decision: false, context: {} };
    const statusOf = (e: DomainError) => (e.kind === 'forbidden' ? 403 : 400);
    /** Entries named by their action: `allow`, `deny`, or `bad` (cannot be asked). */
    const batch = (semantic: string, ...names: string[]) =>
      parseBatch({
        ...evaluation(),
        evaluations: names.map((name) => ({ action: { name } })),
        options: { evaluations_semantic: semantic },
      });
    function gate() {
      const asked: string[] = [];
      const evaluate = async (e: AuthzenEvaluation, at: string) => {
        const name = (e.action as { name: string }).name;
        asked.push(`${at}${name}`);
        if (name === 'bad') throw invalid('unknown_field', 'no such member', `${at}context.tol`);
        return name === 'allow' ? allow : deny;
      };
      return { asked, evaluate };
    }

    it('execute_all asks every entry at once and answers in request order', async () => {
      const started: string[] = [];
      const release: (() => void)[] = [];
      const evaluate = (e: AuthzenEvaluation, at: string) => {
        started.push(at);
        return new Promise<AuthzenDecision>((done) =>
          release.push(() => done((e.action as { name: string }).name === 'allow' ? allow : deny)),
        );
      };
      const answer = evaluateBatch(batch('execute_all', 'deny', 'allow', 'deny'), evaluate, statusOf);
      await Promise.resolve();
      expect(started).toEqual(['evaluations[0].', 'evaluations[1].', 'evaluations[2].']);
      release.reverse().forEach((r) => r());
      expect(await answer).toEqual({ evaluations: [deny, allow, deny] });
    });

    it('deny_on_first_deny asks in order and stops after the first deny', async () => {
      const g = gate();
      const answer = await evaluateBatch(batch('deny_on_first_deny', 'allow', 'deny', 'allow'), g.evaluate, statusOf);
      expect(answer).toEqual({ evaluations: [allow, deny] });
      expect(g.asked).toEqual(['evaluations[0].allow', 'evaluations[1].deny']);
    });

    it('permit_on_first_permit asks in order and stops after the first permit', async () => {
      const g = gate();
      const answer = await evaluateBatch(
        batch('permit_on_first_permit', 'deny', 'allow', 'deny'),
        g.evaluate,
        statusOf,
      );
      expect(answer).toEqual({ evaluations: [deny, allow] });
      expect(g.asked).toEqual(['evaluations[0].deny', 'evaluations[1].allow']);
    });

    it('answers every entry when nothing stops it', async () => {
      expect(await evaluateBatch(batch('deny_on_first_deny', 'allow', 'allow'), gate().evaluate, statusOf)).toEqual({
        evaluations: [allow, allow],
      });
      expect(await evaluateBatch(batch('permit_on_first_permit', 'deny', 'deny'), gate().evaluate, statusOf)).toEqual({
        evaluations: [deny, deny],
      });
    });

    it('answers an entry that cannot be asked with its error, which counts as a deny', async () => {
      const error = {
        status: 400,
        code: 'unknown_field',
        message: 'no such member',
        field: 'evaluations[1].context.tol',
      };
      expect(await evaluateBatch(batch('execute_all', 'allow', 'bad', 'deny'), gate().evaluate, statusOf)).toEqual({
        evaluations: [allow, { decision: false, context: { error } }, deny],
      });
      const g = gate();
      expect(await evaluateBatch(batch('deny_on_first_deny', 'allow', 'bad', 'allow'), g.evaluate, statusOf)).toEqual({
        evaluations: [allow, { decision: false, context: { error } }],
      });
      expect(await evaluateBatch(batch('permit_on_first_permit', 'bad', 'allow'), gate().evaluate, statusOf)).toEqual({
        evaluations: [
          { decision: false, context: { error: { ...error, field: 'evaluations[0].context.tol' } } },
          allow,
        ],
      });
    });

    it('is one evaluation of the top-level members without evaluations, its problem thrown', async () => {
      const g = gate();
      expect(await evaluateBatch(parseBatch(evaluation({ action: { name: 'allow' } })), g.evaluate, statusOf)).toEqual(
        allow,
      );
      expect(g.asked).toEqual(['allow']);
      await expect(
        evaluateBatch(parseBatch(evaluation({ action: { name: 'bad' } })), g.evaluate, statusOf),
      ).rejects.toMatchObject({ code: 'unknown_field', field: 'context.tol' });
    });

    it('does not turn an unexpected failure into an answer', async () => {
      const evaluate = async () => {
        throw new Error('kafka is down');
      };
      await expect(evaluateBatch(batch('execute_all', 'allow'), evaluate, statusOf)).rejects.toThrow('kafka is down');
    });
  });
});

// The request the mapping makes is a GateRequested like any other.
it('maps onto a GateRequested', () => {
  expect(toGateRequest(evaluation()).$typeName).toBe(create(GateRequestedSchema).$typeName);
});
