import { invalid } from '@warden/kernel';
import { RuleEffect } from './api';
import { RuleSource } from './compile';

/** What a bundle test expects: the bundle verdict and, when given, exactly the rules that match. */
export interface BundleTestExpectation {
  readonly verdict: RuleEffect;
  readonly rules?: readonly string[];
}

export interface BundleTestCase {
  readonly name: string;
  /** A RuleInput subset as JSON; missing parts default to `{}`, empty histories and now = 0. */
  readonly input: Readonly<Record<string, unknown>>;
  readonly expect: BundleTestExpectation;
}

/**
 * A policy bundle as kept in a policy repository (one JSON file per bundle, see deploy/policies/)
 * and as submitted to POST /bundles.
 */
export interface BundleDocument {
  readonly id: string;
  readonly version: string;
  readonly description: string;
  readonly rules: readonly RuleSource[];
  readonly tests: readonly BundleTestCase[];
}

export const RULE_EFFECTS: readonly RuleEffect[] = ['allow', 'deny', 'require_approval'];
const ID = /^[A-Za-z0-9._:@-]{1,128}$/;
const MAX_RULES = 1000;

type Json = Record<string, unknown>;

function object(value: unknown, field: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('invalid_bundle', `${field} must be an object`, field);
  }
  return value as Json;
}

function string(o: Json, key: string, field: string, opts: { optional?: boolean; pattern?: RegExp } = {}): string {
  const v = o[key];
  if (v === undefined && opts.optional) return '';
  if (typeof v !== 'string') throw invalid('invalid_bundle', `${field} must be a string`, field);
  if (opts.pattern && !opts.pattern.test(v)) {
    throw invalid('invalid_bundle', `${field} must be 1-128 letters, digits or ._:@-`, field);
  }
  return v;
}

function array(o: Json, key: string, field: string, optional = false): unknown[] {
  const v = o[key];
  if (v === undefined && optional) return [];
  if (!Array.isArray(v)) throw invalid('invalid_bundle', `${field} must be an array`, field);
  return v;
}

function effect(value: unknown, field: string): RuleEffect {
  if (!RULE_EFFECTS.includes(value as RuleEffect)) {
    throw invalid('invalid_bundle', `${field} must be one of ${RULE_EFFECTS.join(', ')}`, field);
  }
  return value as RuleEffect;
}

/** Parses a bundle document (JSON text or an already parsed value); errors name the field at fault. */
export function parseBundleDocument(source: unknown): BundleDocument {
  let value = source;
  if (typeof source === 'string') {
    try {
      value = JSON.parse(source);
    } catch (error) {
      throw invalid('invalid_bundle', `the bundle is not JSON: ${(error as Error).message}`, 'bundle');
    }
  }
  const doc = object(value, 'bundle');
  const rawRules = array(doc, 'rules', 'rules');
  if (rawRules.length === 0) throw invalid('invalid_bundle', 'a bundle needs at least one rule', 'rules');
  if (rawRules.length > MAX_RULES) throw invalid('invalid_bundle', `at most ${MAX_RULES} rules`, 'rules');
  const seen = new Set<string>();
  const rules = rawRules.map((raw, i): RuleSource => {
    const field = `rules[${i}]`;
    const r = object(raw, field);
    const id = string(r, 'id', `${field}.id`, { pattern: ID });
    if (seen.has(id)) throw invalid('duplicate_rule', `rule id ${id} appears twice`, `${field}.id`);
    seen.add(id);
    const risk = r.risk ?? 0;
    if (typeof risk !== 'number' || !Number.isInteger(risk) || risk < 0 || risk > 100) {
      throw invalid('invalid_bundle', `${field}.risk must be an integer from 0 to 100`, `${field}.risk`);
    }
    const when = string(r, 'when', `${field}.when`);
    if (when.trim() === '') throw invalid('invalid_bundle', `${field}.when must not be empty`, `${field}.when`);
    return {
      id,
      description: string(r, 'description', `${field}.description`, { optional: true }),
      when,
      effect: effect(r.effect, `${field}.effect`),
      risk,
      reason: string(r, 'reason', `${field}.reason`, { optional: true }) || id,
    };
  });
  const tests = array(doc, 'tests', 'tests', true).map((raw, i): BundleTestCase => {
    const field = `tests[${i}]`;
    const t = object(raw, field);
    const expect = object(t.expect, `${field}.expect`);
    const expectedRules = expect.rules === undefined ? undefined : array(expect, 'rules', `${field}.expect.rules`);
    expectedRules?.forEach((id, j) => {
      if (typeof id !== 'string' || !seen.has(id)) {
        throw invalid(
          'unknown_rule',
          `${field}.expect.rules[${j}] names no rule of this bundle`,
          `${field}.expect.rules`,
        );
      }
    });
    return {
      name: string(t, 'name', `${field}.name`) || `test ${i}`,
      input: t.input === undefined ? {} : object(t.input, `${field}.input`),
      expect: {
        verdict: effect(expect.verdict, `${field}.expect.verdict`),
        ...(expectedRules ? { rules: expectedRules as string[] } : {}),
      },
    };
  });
  return {
    id: string(doc, 'id', 'id', { pattern: ID }),
    version: string(doc, 'version', 'version', { pattern: ID }),
    description: string(doc, 'description', 'description', { optional: true }),
    rules,
    tests,
  };
}
