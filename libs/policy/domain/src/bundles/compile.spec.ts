import { RuleInput } from './api';
import { BundleCompileError, checkRules, compileRules, positionOf, RuleSource } from './compile';
import { parseBundleDocument } from './document';
import { bundleVerdict, ruleInputOf } from './verdict';

const rule = (over: Partial<RuleSource> & Pick<RuleSource, 'id' | 'when'>): RuleSource => ({
  description: '',
  effect: 'deny',
  risk: 10,
  reason: `${over.id} fired`,
  ...over,
});

const compile = (rules: RuleSource[]) =>
  compileRules({ bundleId: 'b', tenantId: 't', version: '1', digest: 'd', rules });

const input = (json: Record<string, unknown>): RuleInput => ruleInputOf(json);

describe('compiling and evaluating CEL rules', () => {
  it('given a rule per effect, when its condition holds, then the verdict carries the effect, risk and reason', () => {
    const bundle = compile([
      rule({ id: 'a', when: 'request.tool == "search"', effect: 'allow', risk: 0 }),
      rule({ id: 'd', when: 'request.tool == "rm"', effect: 'deny', risk: 90 }),
      rule({ id: 'r', when: 'request.environment == "prod"', effect: 'require_approval', risk: 50 }),
    ]);
    expect(bundle.evaluate(input({ request: { tool: 'search', environment: 'dev' } }))).toEqual([
      { ruleId: 'a', version: '1', result: 'allow', risk: 0, reason: 'a fired' },
      { ruleId: 'd', version: '1', result: 'no_match', risk: 0, reason: '' },
      { ruleId: 'r', version: '1', result: 'no_match', risk: 0, reason: '' },
    ]);
    const verdicts = bundle.evaluate(input({ request: { tool: 'rm', environment: 'prod' } }));
    expect(verdicts.map((v) => v.result)).toEqual(['no_match', 'deny', 'require_approval']);
    expect(verdicts[1]).toMatchObject({ risk: 90, reason: 'd fired' });
    expect(bundleVerdict(verdicts)).toBe('deny');
  });

  it('given a rule reading a missing key, when evaluated, then its verdict is error (and the bundle denies)', () => {
    const bundle = compile([rule({ id: 'x', when: 'request.missing > 1', effect: 'allow' })]);
    const [verdict] = bundle.evaluate(input({ request: {} }));
    expect(verdict.result).toBe('error');
    expect(verdict.reason).toMatch(/rule x failed: No such key: missing/);
    expect(bundleVerdict([verdict])).toBe('deny');
  });

  it('given a dyn condition that is not a bool at run time, then the verdict is error', () => {
    const bundle = compile([rule({ id: 'x', when: 'request.tool' })]);
    expect(bundle.evaluate(input({ request: { tool: 'a' } }))[0]).toMatchObject({
      result: 'error',
      reason: 'rule x failed: the condition returned string',
    });
  });

  it('reads every RuleInput variable: agent, contract, action, run, agent_history and now', () => {
    const bundle = compile([
      rule({ id: 'agent', when: 'agent.status == "active"' }),
      rule({ id: 'contract', when: 'contract.tool == "crm"' }),
      rule({ id: 'action', when: 'action.riskClass == "high"' }),
      rule({ id: 'run', when: 'size(run.history) == 1' }),
      rule({ id: 'agent_history', when: 'agent_history.history.exists(h, h.verdict == "allow")' }),
      rule({ id: 'now', when: 'now - request.requestedAtMs > 1000.0' }),
    ]);
    const verdicts = bundle.evaluate({
      request: { requestedAtMs: 1000 },
      agent: { status: 'active' },
      contract: { tool: 'crm' },
      action: { riskClass: 'high' },
      run: {
        history: [
          { requestId: 'r', actionKind: 'step', tool: '', action: '', atMs: 1, dataClasses: [], verdict: 'allow' },
        ],
      },
      agentHistory: {
        history: [
          { requestId: 'r', actionKind: 'step', tool: '', action: '', atMs: 1, dataClasses: [], verdict: 'allow' },
        ],
      },
      now: 5000,
    });
    expect(verdicts.map((v) => v.result)).toEqual(['deny', 'deny', 'deny', 'deny', 'deny', 'deny']);
  });

  it('numbers are doubles: comparison with int literals works, arithmetic needs double literals', () => {
    expect(
      compile([rule({ id: 'cmp', when: 'request.estimatedTokens > 100' })]).evaluate(
        input({ request: { estimatedTokens: 150 } }),
      )[0].result,
    ).toBe('deny');
    expect(
      compile([rule({ id: 'eq', when: 'request.attempt == 2' })]).evaluate(input({ request: { attempt: 2 } }))[0]
        .result,
    ).toBe('deny');
    expect(
      compile([rule({ id: 'dbl', when: 'request.estimatedTokens * 2.0 > 250.0' })]).evaluate(
        input({ request: { estimatedTokens: 150 } }),
      )[0].result,
    ).toBe('deny');
    expect(
      compile([rule({ id: 'int', when: 'request.estimatedTokens * 2 > 250' })]).evaluate(
        input({ request: { estimatedTokens: 150 } }),
      )[0].result,
    ).toBe('error');
  });

  it('the request guard index gives the same verdicts as evaluating every rule', () => {
    const rules = [
      rule({ id: 'g1', when: 'request.actionKind == "tool_call" && request.tool == "a"' }),
      rule({ id: 'g2', when: '"model_call" == request.actionKind && request.estimatedTokens > 10' }),
      rule({ id: 'g3', when: 'request.actionKind == "tool_call" && request.missing == 1' }),
      rule({ id: 'free', when: 'request.attempt > 3' }),
    ];
    const bundle = compile(rules);
    const cases = [
      { actionKind: 'tool_call', tool: 'a', attempt: 1, estimatedTokens: 50 },
      { actionKind: 'model_call', tool: 'a', attempt: 5, estimatedTokens: 50 },
      { tool: 'a', attempt: 1, estimatedTokens: 50 },
      { actionKind: 7, tool: 'a', attempt: 1, estimatedTokens: 50 },
    ];
    for (const request of cases) {
      const indexed = bundle.evaluate(input({ request }));
      const oneByOne = rules.map((r) => compile([r]).evaluate(input({ request }))[0]);
      expect(indexed).toEqual(oneByOne);
    }
    expect(bundle.evaluate(input({ request: cases[0] })).map((v) => v.result)).toEqual([
      'deny',
      'no_match',
      'error',
      'no_match',
    ]);
    expect(bundle.evaluate(input({ request: cases[2] })).map((v) => v.result)).toEqual([
      'error',
      'error',
      'error',
      'no_match',
    ]);
  });

  it('given a syntax error, then compiling names the rule and the line and column', () => {
    const error = (() => {
      try {
        compile([rule({ id: 'ok', when: 'true' }), rule({ id: 'broken', when: 'request.tool ==\n  && true' })]);
      } catch (e) {
        return e as BundleCompileError;
      }
      throw new Error('compiled');
    })();
    expect(error).toBeInstanceOf(BundleCompileError);
    expect(error.errors).toEqual([
      expect.objectContaining({
        ruleId: 'broken',
        index: 1,
        code: 'unexpected_token',
        position: { offset: 18, line: 2, column: 3 },
      }),
    ]);
    expect(error.message).toMatch(/^rule broken \(line 2, column 3\): /);
  });

  it('given type errors, an unknown variable or a non-bool condition, then each rule is reported', () => {
    const errors = checkRules([
      rule({ id: 'types', when: 'now + "s" == "x"' }),
      rule({ id: 'unknown', when: 'user.admin' }),
      rule({ id: 'not-bool', when: 'now + 1.0' }),
      rule({ id: 'fine', when: 'now > 1.0' }),
    ]);
    expect(errors.map((e) => [e.ruleId, e.code, e.position.column])).toEqual([
      ['types', 'no_such_overload', 1],
      ['unknown', 'unknown_variable', 1],
      ['not-bool', 'not_a_condition', 1],
    ]);
  });

  it('positions count lines and columns from 1', () => {
    expect(positionOf('ab\ncd', 4)).toEqual({ offset: 4, line: 2, column: 2 });
    expect(positionOf('ab', 99)).toEqual({ offset: 2, line: 1, column: 3 });
  });
});

describe('parsing a bundle document', () => {
  const valid = {
    id: 'b',
    version: '1.0.0',
    rules: [{ id: 'r', when: 'true', effect: 'deny', risk: 5, reason: 'no' }],
    tests: [{ name: 't', input: {}, expect: { verdict: 'deny', rules: ['r'] } }],
  };
  it('accepts JSON text and fills defaults', () => {
    const doc = parseBundleDocument(JSON.stringify(valid));
    expect(doc).toMatchObject({ id: 'b', version: '1.0.0', description: '', tests: [{ name: 't' }] });
    expect(doc.rules[0]).toEqual({ id: 'r', description: '', when: 'true', effect: 'deny', risk: 5, reason: 'no' });
  });
  it.each([
    ['not JSON', '{', 'bundle'],
    ['no rules', { ...valid, rules: [] }, 'rules'],
    ['a bad effect', { ...valid, rules: [{ id: 'r', when: 'true', effect: 'maybe' }] }, 'rules[0].effect'],
    ['a bad risk', { ...valid, rules: [{ id: 'r', when: 'true', effect: 'deny', risk: 101 }] }, 'rules[0].risk'],
    ['a duplicate rule', { ...valid, rules: [valid.rules[0], valid.rules[0]] }, 'rules[1].id'],
    ['an empty condition', { ...valid, rules: [{ id: 'r', when: ' ', effect: 'deny' }] }, 'rules[0].when'],
    [
      'a test naming no rule',
      { ...valid, tests: [{ name: 't', expect: { verdict: 'deny', rules: ['x'] } }] },
      'tests[0].expect.rules',
    ],
    ['a bad version', { ...valid, version: 'a b' }, 'version'],
  ])('refuses %s, naming the field', (_, body, field) => {
    expect(() => parseBundleDocument(body)).toThrow(expect.objectContaining({ kind: 'invalid', field }));
  });
});
