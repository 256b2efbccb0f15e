import { parse } from '@marcbachmann/cel-js';
import Ajv2020, { ErrorObject, ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { ToolContract } from '@warden/contracts';
import { RuleInput } from './bundles/api';

/** The value the SDK puts in place of a secret-looking argument (libs/sdk/src/client.ts). */
export const REDACTED = '[redacted]';

type CelProgram = (context: Record<string, unknown>) => unknown;

export interface CompiledProhibition {
  readonly id: string;
  readonly description: string;
  /** Undefined when the expression did not compile: the prohibition then denies (fail closed). */
  readonly program: CelProgram | undefined;
  readonly compileError: string;
}

/** A published contract version with its input schema and prohibitions compiled once. */
export interface CompiledContract {
  readonly tenantId: string;
  readonly contract: ToolContract;
  readonly withdrawn: boolean;
  /** Undefined when the contract has no input schema. */
  readonly validate: ValidateFunction | undefined;
  /** Set when the input schema did not compile: every call is then denied. */
  readonly schemaError: string;
  readonly prohibitions: readonly CompiledProhibition[];
}

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);

export function compileContract(tenantId: string, contract: ToolContract): CompiledContract {
  let validate: ValidateFunction | undefined;
  let schemaError = '';
  if (contract.inputSchemaJson.trim() !== '') {
    try {
      validate = ajv.compile(JSON.parse(contract.inputSchemaJson) as object);
    } catch (error) {
      schemaError = (error as Error).message;
    }
  }
  const prohibitions = contract.prohibitions.map((p): CompiledProhibition => {
    try {
      return { id: p.id, description: p.description, program: parse(p.when) as CelProgram, compileError: '' };
    } catch (error) {
      return { id: p.id, description: p.description, program: undefined, compileError: (error as Error).message };
    }
  });
  return { tenantId, contract, withdrawn: false, validate, schemaError, prohibitions };
}

function valueAt(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  let node: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Whether the instance path lies at or under a value the SDK redacted. */
function underRedacted(root: unknown, instancePath: string): boolean {
  const parts = instancePath === '' ? [] : instancePath.split('/').slice(1);
  for (let i = 0; i <= parts.length; i++) {
    const pointer = i === 0 ? '' : `/${parts.slice(0, i).join('/')}`;
    if (valueAt(root, pointer) === REDACTED) return true;
  }
  return false;
}

/**
 * Validates the request's redacted arguments against the contract's input schema. The gate never
 * sees secret values: an error about a value that is `[redacted]` is not held against the request
 * (its shape is unknown here), but the property must still be present, and everything else is
 * checked as usual. Returns the errors that count, as text; empty when the arguments fit.
 */
export function inputShapeErrors(contract: CompiledContract, args: unknown): string[] {
  if (!contract.validate) return [];
  if (contract.validate(args ?? {})) return [];
  const errors: ErrorObject[] = contract.validate.errors ?? [];
  return errors
    .filter((e) => e.keyword === 'required' || !underRedacted(args, e.instancePath))
    .map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`);
}

/** The prohibitions that apply to this input: true, or not evaluable (fail closed). */
export function violatedProhibitions(contract: CompiledContract, input: RuleInput): { id: string; reason: string }[] {
  const out: { id: string; reason: string }[] = [];
  // The same variable names as rules (bundles/compile.ts): `agent_history` in CEL.
  const context: Record<string, unknown> = { ...input, agent_history: input.agentHistory };
  for (const p of contract.prohibitions) {
    if (!p.program) {
      out.push({ id: p.id, reason: `prohibition ${p.id} does not compile (${p.compileError})` });
      continue;
    }
    try {
      const result = p.program(context);
      if (result === true) out.push({ id: p.id, reason: `prohibited: ${p.description || p.id}` });
      else if (typeof result !== 'boolean') {
        out.push({ id: p.id, reason: `prohibition ${p.id} did not evaluate to a bool` });
      }
    } catch (error) {
      out.push({ id: p.id, reason: `prohibition ${p.id} could not be evaluated: ${(error as Error).message}` });
    }
  }
  return out;
}
