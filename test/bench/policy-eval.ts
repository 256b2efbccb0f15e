import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { compileRules, RuleInput, RuleSource } from '@warden/policy-domain';
import { TARGETS } from './targets';

/**
 * In-process policy evaluation: a 100-rule CEL bundle (the shape of a real tenant bundle: rules per
 * tool, model, memory store and delegate, plus unguarded global rules) against the equivalent
 * 100-policy Cedar set (`@cedar-policy/cedar-wasm`, policies preparsed once, `statefulIsAuthorized`),
 * over the same 1,000 requests, in the same process, one after the other on one thread.
 */
export interface EvaluatorResult {
  readonly evaluations: number;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  /** Evaluations per second of wall-clock time on one thread. */
  readonly perSecond: number;
  /** Evaluations per CPU-second of this process (user + system): the per-core figure. */
  readonly perCoreSecond: number;
}

export interface PolicyEvalReport {
  readonly rules: number;
  readonly requests: number;
  /** Rules that matched per evaluation, on average, and the CEL/Cedar decision agreement. */
  readonly matchedPerEvaluation: number;
  readonly decisionsAgree: boolean;
  readonly cel: EvaluatorResult;
  readonly cedar: EvaluatorResult & { readonly version: string };
  /** cel.perCoreSecond / cedar.perCoreSecond. */
  readonly ratio: number;
}

interface Spec {
  readonly cel: RuleSource;
  readonly cedar: string;
}

const TOOLS = 40;
const MODELS = 20;
const STORES = 15;
const DELEGATES = 10;

function bundleSpecs(): Spec[] {
  const specs: Spec[] = [];
  const add = (id: string, effect: RuleSource['effect'], when: string, cedarPolicy: string) =>
    specs.push({
      cel: { id, description: '', when, effect, risk: 10, reason: id },
      cedar: cedarPolicy,
    });
  for (let i = 0; i < TOOLS; i++) {
    const tool = `tool-${i}`;
    const scope = `principal, action == Action::"tool_call", resource == Tool::"${tool}"`;
    const head = `request.actionKind == "tool_call" && request.tool == "${tool}"`;
    switch (i % 4) {
      case 0:
        add(
          `${tool}-pii`,
          'deny',
          `${head} && request.dataClasses.exists(c, c in ["pii", "phi"])`,
          `forbid (${scope}) when { context.dataClasses.containsAny(["pii", "phi"]) };`,
        );
        break;
      case 1:
        add(
          `${tool}-prod`,
          'require_approval',
          `${head} && request.environment == "prod"`,
          `forbid (${scope}) when { context.environment == "prod" };`,
        );
        break;
      case 2:
        add(
          `${tool}-cost`,
          'require_approval',
          `${head} && request.estimatedCost.micros > 10000000.0`,
          `forbid (${scope}) when { context.estimatedCostMicros > 10000000 };`,
        );
        break;
      default:
        add(
          `${tool}-retries`,
          'deny',
          `${head} && request.attempt > 3`,
          `forbid (${scope}) when { context.attempt > 3 };`,
        );
    }
  }
  for (let i = 0; i < MODELS; i++) {
    const model = `model-${i}`;
    add(
      `${model}-tokens`,
      'deny',
      `request.actionKind == "model_call" && request.model == "${model}" && request.estimatedTokens > ${(i + 1) * 10_000}`,
      `forbid (principal, action == Action::"model_call", resource == Model::"${model}") when { context.estimatedTokens > ${(i + 1) * 10_000} };`,
    );
  }
  for (let i = 0; i < STORES; i++) {
    const store = `store-${i}`;
    add(
      `${store}-secrets`,
      'deny',
      `request.actionKind == "memory_write" && request.memoryStore == "${store}" && "secret" in request.dataClasses`,
      `forbid (principal, action == Action::"memory_write", resource == MemoryStore::"${store}") when { context.dataClasses.contains("secret") };`,
    );
  }
  for (let i = 0; i < DELEGATES; i++) {
    const delegate = `agent-${i}`;
    add(
      `delegate-${delegate}`,
      'require_approval',
      `request.actionKind == "delegation" && request.delegateToAgentId == "${delegate}" && request.onBehalfOf != ""`,
      `forbid (principal, action == Action::"delegation", resource == Agent::"${delegate}") when { context.onBehalfOf != "" };`,
    );
  }
  const globals: [string, RuleSource['effect'], string, string][] = [
    ['retry-storm', 'deny', 'request.attempt > 8', 'context.attempt > 8'],
    ['huge-tokens', 'deny', 'request.estimatedTokens > 900000', 'context.estimatedTokens > 900000'],
    [
      'prod-secret',
      'deny',
      '"secret" in request.dataClasses && request.environment == "prod"',
      'context.dataClasses.contains("secret") && context.environment == "prod"',
    ],
    [
      'prod-pci',
      'require_approval',
      '"pci" in request.dataClasses && request.environment == "prod"',
      'context.dataClasses.contains("pci") && context.environment == "prod"',
    ],
    [
      'big-spend',
      'require_approval',
      'request.estimatedCost.micros > 100000000.0',
      'context.estimatedCostMicros > 100000000',
    ],
    [
      'on-behalf-prod',
      'require_approval',
      'request.onBehalfOf != "" && request.environment == "prod"',
      'context.onBehalfOf != "" && context.environment == "prod"',
    ],
    [
      'phi-anywhere-prod',
      'require_approval',
      '"phi" in request.dataClasses && request.environment == "prod"',
      'context.dataClasses.contains("phi") && context.environment == "prod"',
    ],
    ['legacy-model', 'deny', 'request.model == "legacy-1"', 'context.model == "legacy-1"'],
    [
      'sandbox-secret',
      'deny',
      'request.environment == "sandbox" && "secret" in request.dataClasses',
      'context.environment == "sandbox" && context.dataClasses.contains("secret")',
    ],
    [
      'many-classes',
      'require_approval',
      'size(request.dataClasses) > 3',
      'context.dataClasses.containsAll(["pii", "phi", "pci", "secret"])',
    ],
    [
      'night-batch',
      'deny',
      'request.attempt > 6 && request.estimatedTokens > 50000',
      'context.attempt > 6 && context.estimatedTokens > 50000',
    ],
    ['unknown-env', 'deny', 'request.environment == "unknown"', 'context.environment == "unknown"'],
    [
      'shared-secret',
      'deny',
      'request.memoryClass == "shared" && "secret" in request.dataClasses',
      'context.memoryClass == "shared" && context.dataClasses.contains("secret")',
    ],
    [
      'durable-pci',
      'deny',
      'request.memoryClass == "durable" && "pci" in request.dataClasses',
      'context.memoryClass == "durable" && context.dataClasses.contains("pci")',
    ],
    [
      'costly-retry',
      'deny',
      'request.attempt > 4 && request.estimatedCost.micros > 50000000.0',
      'context.attempt > 4 && context.estimatedCostMicros > 50000000',
    ],
  ];
  for (const [id, effect, when, cond] of globals)
    add(id, effect, when, `forbid (principal, action, resource) when { ${cond} };`);
  return specs;
}

interface Request {
  readonly input: RuleInput;
  readonly cedar: cedar.StatefulAuthorizationCall;
}

/** A deterministic pseudo-random mix of requests (no Math.random, so every run sees the same load). */
function requests(count: number, policySetId: string): Request[] {
  let seed = 42;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const kinds = [
    'tool_call',
    'tool_call',
    'tool_call',
    'model_call',
    'model_call',
    'memory_write',
    'delegation',
    'step',
  ];
  const envs = ['dev', 'staging', 'prod', 'prod'];
  const classes = ['public', 'internal', 'pii', 'phi', 'pci', 'secret'];
  const out: Request[] = [];
  for (let i = 0; i < count; i++) {
    const actionKind = kinds[next(kinds.length)];
    const tool = actionKind === 'tool_call' ? `tool-${next(TOOLS + 10)}` : '';
    const model = actionKind === 'model_call' ? `model-${next(MODELS + 5)}` : '';
    const memoryStore = actionKind === 'memory_write' ? `store-${next(STORES + 5)}` : '';
    const delegateToAgentId = actionKind === 'delegation' ? `agent-${next(DELEGATES + 5)}` : '';
    const dataClasses = [...new Set([classes[next(classes.length)], classes[next(classes.length)]])];
    const request = {
      requestId: `r${i}`,
      agentId: `agent-x`,
      actionKind,
      tool,
      model,
      memoryStore,
      memoryClass: ['working', 'durable', 'shared'][next(3)],
      delegateToAgentId,
      onBehalfOf: next(3) === 0 ? 'alice' : '',
      environment: envs[next(envs.length)],
      dataClasses,
      attempt: 1 + next(10),
      estimatedTokens: next(1_000_000),
      estimatedCost: { currency: 'USD', micros: next(200_000_000) },
    };
    const resource =
      actionKind === 'tool_call'
        ? { type: 'Tool', id: tool }
        : actionKind === 'model_call'
          ? { type: 'Model', id: model }
          : actionKind === 'memory_write'
            ? { type: 'MemoryStore', id: memoryStore }
            : actionKind === 'delegation'
              ? { type: 'Agent', id: delegateToAgentId }
              : { type: 'Step', id: 'step' };
    out.push({
      input: {
        request,
        agent: {},
        contract: {},
        action: {},
        run: { history: [] },
        agentHistory: { history: [] },
        now: 1_763_700_000_000,
      },
      cedar: {
        principal: { type: 'Agent', id: request.agentId },
        action: { type: 'Action', id: actionKind },
        resource,
        context: {
          dataClasses,
          environment: request.environment,
          attempt: request.attempt,
          estimatedTokens: request.estimatedTokens,
          estimatedCostMicros: request.estimatedCost.micros,
          onBehalfOf: request.onBehalfOf,
          model,
          memoryClass: request.memoryClass,
        },
        preparsedPolicySetId: policySetId,
        entities: [],
      },
    });
  }
  return out;
}

function measure(seconds: number, evaluateOne: (i: number) => void, pool: number): EvaluatorResult {
  for (let i = 0; i < pool * 20; i++) evaluateOne(i % pool); // warm up the JIT
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let evaluations = 0;
  let wall = 0;
  while (wall < seconds) {
    for (let i = 0; i < pool; i++) evaluateOne(i);
    evaluations += pool;
    wall = Number(process.hrtime.bigint() - t0) / 1e9;
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    evaluations,
    wallSeconds: wall,
    cpuSeconds,
    perSecond: evaluations / wall,
    perCoreSecond: evaluations / cpuSeconds,
  };
}

export function runPolicyEvalBench(seconds = 5): PolicyEvalReport {
  const specs = bundleSpecs();
  const bundle = compileRules({
    bundleId: 'bench',
    tenantId: 'bench',
    version: '1',
    digest: 'bench',
    rules: specs.map((s) => s.cel),
  });
  const policySetId = 'warden-bench';
  const parsed = cedar.preparsePolicySet(policySetId, {
    staticPolicies: Object.fromEntries([
      ['baseline', 'permit (principal, action, resource);'],
      ...specs.map((s) => [s.cel.id, s.cedar]),
    ]),
  });
  if (parsed.type !== 'success') throw new Error(`cedar policies: ${JSON.stringify(parsed.errors)}`);
  const pool = requests(1000, policySetId);

  // The two engines must agree on every request before their speed means anything.
  let matched = 0;
  let agree = true;
  for (const r of pool) {
    const verdicts = bundle.evaluate(r.input);
    const fired = verdicts.filter((v) => v.result !== 'no_match');
    matched += fired.length;
    const answer = cedar.statefulIsAuthorized(r.cedar);
    if (answer.type !== 'success') throw new Error(`cedar: ${JSON.stringify(answer.errors)}`);
    const forbidden = answer.response.diagnostics.reason.filter((id) => id !== 'baseline').sort();
    const celIds = fired.map((v) => v.ruleId).sort();
    if (JSON.stringify(forbidden) !== JSON.stringify(celIds) || fired.some((v) => v.result === 'error')) {
      if (agree && process.env.BENCH_POLICY_DEBUG)
        process.stderr.write(
          `${JSON.stringify({ cedar: forbidden, cel: fired, errors: answer.response.diagnostics.errors, request: r.input.request })}\n`,
        );
      agree = false;
    }
  }

  let sink = 0;
  const cel = measure(
    seconds,
    (i) => {
      sink += bundle.evaluate(pool[i].input).length;
    },
    pool.length,
  );
  const cedarResult = measure(
    seconds,
    (i) => {
      const answer = cedar.statefulIsAuthorized(pool[i].cedar);
      sink += answer.type === 'success' ? answer.response.diagnostics.reason.length : 0;
    },
    pool.length,
  );
  if (sink < 0) throw new Error('unreachable');
  return {
    rules: specs.length,
    requests: pool.length,
    matchedPerEvaluation: matched / pool.length,
    decisionsAgree: agree,
    cel,
    cedar: { ...cedarResult, version: cedar.getCedarVersion() },
    ratio: cel.perCoreSecond / cedarResult.perCoreSecond,
  };
}

export function renderPolicyEval(r: PolicyEvalReport): string {
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  return [
    `policy evaluation in process: ${r.rules} rules, ${r.requests} requests, ${r.matchedPerEvaluation.toFixed(2)} rules matched per evaluation, CEL and Cedar agree: ${r.decisionsAgree}`,
    `  CEL (@marcbachmann/cel-js)        ${fmt(r.cel.perCoreSecond)} evaluations/s per core (${fmt(r.cel.perSecond)}/s wall)`,
    `  Cedar ${r.cedar.version} (cedar-wasm)       ${fmt(r.cedar.perCoreSecond)} evaluations/s per core (${fmt(r.cedar.perSecond)}/s wall)`,
    `  ratio CEL / Cedar                ${r.ratio.toFixed(2)}x; target >= ${fmt(TARGETS.policyEvaluationsPerCoreSecond)}/s per core: ${r.cel.perCoreSecond >= TARGETS.policyEvaluationsPerCoreSecond ? 'met' : 'MISSED'}`,
  ].join('\n');
}

if (require.main === module) {
  const report = runPolicyEvalBench(Number(process.env.BENCH_POLICY_SECONDS ?? 5));
  process.stdout.write(`${renderPolicyEval(report)}\n${JSON.stringify(report, null, 2)}\n`);
}
