import { Environment } from '@marcbachmann/cel-js';
import { CompiledBundle, RuleEffect, RuleInput, RuleVerdict } from './api';

/** A rule as the bundle document and PolicyBundlePublished carry it. */
export interface RuleSource {
  readonly id: string;
  readonly description: string;
  readonly when: string;
  readonly effect: RuleEffect;
  readonly risk: number;
  readonly reason: string;
}

/** Where in a rule's `when` an error is: 0-based offset, 1-based line and column. */
export interface SourcePosition {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

/** Why one rule does not compile. */
export interface RuleCompileError {
  readonly ruleId: string;
  /** The rule's index in the bundle, for the field path `rules[i].when`. */
  readonly index: number;
  readonly code: string;
  readonly message: string;
  readonly position: SourcePosition;
}

type Program = (activation: Record<string, unknown>) => unknown;

interface CelNode {
  readonly op: string;
  readonly args: unknown;
}

/**
 * The CEL environment every rule compiles in. The variables are the fields of RuleInput, under
 * their CEL names; objects are `map` (JSON-like, proto3 JSON names), `now` is a double.
 * Numbers: every number in the input is a JS number, which cel-js treats as a CEL `double`;
 * CEL integer literals are `int` (bigint). Ordering (`<`, `>=`, ...) and `==` between a double
 * field and an int literal work, but arithmetic does not (`request.estimatedTokens * 2` is
 * `no such overload: double * int`): write double literals (`* 2.0`) or convert (`int(x)`).
 * `size()` returns an int. Declaring `now` as double keeps it comparable with the request's
 * `*AtMs` fields without a conversion per evaluation. See docs/adr/0020-policy-bundles-and-cel.md.
 */
function ruleEnvironment(): Environment {
  return new Environment({ homogeneousAggregateLiterals: false })
    .registerVariable('request', 'map')
    .registerVariable('agent', 'map')
    .registerVariable('contract', 'map')
    .registerVariable('action', 'map')
    .registerVariable('run', 'map')
    .registerVariable('agent_history', 'map')
    .registerVariable('now', 'double');
}

const environment = ruleEnvironment();

export function positionOf(source: string, offset: number): SourcePosition {
  const clamped = Math.max(0, Math.min(offset, source.length));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < clamped; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { offset: clamped, line, column: clamped - lineStart + 1 };
}

function errorOf(rule: RuleSource, index: number, error: unknown): RuleCompileError {
  const e = error as { code?: string; summary?: string; message?: string; range?: { start: number } };
  const message = e.summary ?? (e.message ?? String(error)).split('\n')[0];
  return {
    ruleId: rule.id,
    index,
    code: e.code ?? 'invalid_expression',
    message,
    position: positionOf(rule.when, e.range?.start ?? 0),
  };
}

/** Parses and type-checks one rule's condition; it must be a bool. */
function compileRule(rule: RuleSource, index: number): { program: Program; ast: CelNode } | RuleCompileError {
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = environment.parse(rule.when);
  } catch (error) {
    return errorOf(rule, index, error);
  }
  const checked = parsed.check();
  if (!checked.valid) return errorOf(rule, index, checked.error);
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    return {
      ruleId: rule.id,
      index,
      code: 'not_a_condition',
      message: `the condition must be a bool, not ${String(checked.type)}`,
      position: positionOf(rule.when, 0),
    };
  }
  return { program: parsed as unknown as Program, ast: parsed.ast as unknown as CelNode };
}

/** Compiles every rule; returns the errors of all rules that do not compile (empty = fine). */
export function checkRules(rules: readonly RuleSource[]): RuleCompileError[] {
  const errors: RuleCompileError[] = [];
  rules.forEach((rule, i) => {
    const result = compileRule(rule, i);
    if ('ruleId' in result) errors.push(result);
  });
  return errors;
}

export class BundleCompileError extends Error {
  constructor(readonly errors: readonly RuleCompileError[]) {
    super(errors.map(describeCompileError).join('; '));
    this.name = 'BundleCompileError';
  }
}

export function describeCompileError(e: RuleCompileError): string {
  return `rule ${e.ruleId} (line ${e.position.line}, column ${e.position.column}): ${e.message}`;
}

/**
 * A top-level conjunct `request.<field> == "<literal>"` of a rule's condition. When the request
 * carries that field as a string different from the literal, the whole condition is false (CEL's
 * `&&` is false as soon as one side is false, even if the other errs), so the rule need not run.
 */
function guardOf(ast: CelNode): { field: string; value: string } | undefined {
  const conjuncts: CelNode[] = [];
  const collect = (node: CelNode) => {
    if (node.op === '&&') for (const arg of node.args as CelNode[]) collect(arg);
    else conjuncts.push(node);
  };
  collect(ast);
  for (const c of conjuncts) {
    if (c.op !== '==') continue;
    const [left, right] = c.args as CelNode[];
    const g = requestField(left, right) ?? requestField(right, left);
    if (g) return g;
  }
  return undefined;
}

function requestField(access: CelNode, literal: CelNode): { field: string; value: string } | undefined {
  if (access.op !== '.' || literal.op !== 'value' || typeof literal.args !== 'string') return undefined;
  const [target, field] = access.args as [CelNode, string];
  if (target.op !== 'id' || target.args !== 'request') return undefined;
  return { field, value: literal.args };
}

interface IndexedField {
  readonly field: string;
  /** Rules guarded by this field, by the literal they require. */
  readonly byValue: Map<string, number[]>;
  /** Every rule guarded by this field (run when the request lacks it or it is not a string). */
  readonly all: number[];
}

export interface CompileOptions {
  readonly bundleId: string;
  readonly tenantId: string;
  readonly version: string;
  readonly digest: string;
  readonly rules: readonly RuleSource[];
}

/**
 * Compiles a bundle version once: every rule parsed and type-checked in the rule environment,
 * verdict objects for each outcome built ahead, and rules indexed by their `request.<field> ==`
 * guard. Throws BundleCompileError naming each rule that does not compile and where.
 */
export function compileRules(options: CompileOptions): CompiledBundle {
  const { rules, version } = options;
  const programs: Program[] = [];
  const errors: RuleCompileError[] = [];
  const always: number[] = [];
  const fields = new Map<string, IndexedField>();
  rules.forEach((rule, i) => {
    const result = compileRule(rule, i);
    if ('ruleId' in result) {
      errors.push(result);
      return;
    }
    programs.push(result.program);
    const guard = guardOf(result.ast);
    if (!guard) {
      always.push(i);
      return;
    }
    let indexed = fields.get(guard.field);
    if (!indexed) fields.set(guard.field, (indexed = { field: guard.field, byValue: new Map(), all: [] }));
    indexed.all.push(i);
    const same = indexed.byValue.get(guard.value);
    if (same) same.push(i);
    else indexed.byValue.set(guard.value, [i]);
  });
  if (errors.length > 0) throw new BundleCompileError(errors);

  const noMatch: RuleVerdict[] = rules.map((r) =>
    Object.freeze({ ruleId: r.id, version, result: 'no_match' as const, risk: 0, reason: '' }),
  );
  const matched: RuleVerdict[] = rules.map((r) =>
    Object.freeze({ ruleId: r.id, version, result: r.effect, risk: r.risk, reason: r.reason }),
  );
  const indexedFields = [...fields.values()];
  const activation: Record<string, unknown> = {};

  const run = (i: number, out: RuleVerdict[]) => {
    try {
      const value = programs[i](activation);
      if (value === true) out[i] = matched[i];
      else if (value !== false) out[i] = errorVerdict(rules[i], version, `the condition returned ${typeof value}`);
    } catch (error) {
      out[i] = errorVerdict(rules[i], version, (error as Error).message.split('\n')[0]);
    }
  };

  return {
    bundleId: options.bundleId,
    tenantId: options.tenantId,
    version,
    digest: options.digest,
    evaluate(input: RuleInput): readonly RuleVerdict[] {
      activation.request = input.request;
      activation.agent = input.agent;
      activation.contract = input.contract;
      activation.action = input.action;
      activation.run = input.run;
      activation.agent_history = input.agentHistory;
      activation.now = input.now;
      const out = noMatch.slice();
      const request = input.request;
      for (let f = 0; f < indexedFields.length; f++) {
        const indexed = indexedFields[f];
        const value = request[indexed.field];
        const candidates = typeof value === 'string' ? indexed.byValue.get(value) : indexed.all;
        if (candidates) for (let c = 0; c < candidates.length; c++) run(candidates[c], out);
      }
      for (let a = 0; a < always.length; a++) run(always[a], out);
      return out;
    },
  };
}

function errorVerdict(rule: RuleSource, version: string, message: string): RuleVerdict {
  return { ruleId: rule.id, version, result: 'error', risk: rule.risk, reason: `rule ${rule.id} failed: ${message}` };
}
