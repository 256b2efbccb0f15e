import { createHash } from 'node:crypto';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import {
  Change,
  ChangeSchema,
  create,
  DataClass,
  ProhibitionSchema,
  RateLimitSchema,
  RiskClass,
  ToolActionSchema,
  ToolContract,
  ToolContractPublished,
  ToolContractPublishedSchema,
  ToolContractSchema,
  ToolContractWithdrawn,
  ToolContractWithdrawnSchema,
} from '@warden/contracts';
import { assertNever, conflict, Decider, invalid, notFound, requireRole } from '@warden/kernel';
import { isId, requireId } from './agent-profile';

/** Events of one tool's contract in one tenant; stream id `tool:<tenant>/<tool>` (see toolStream). */
export type ToolContractEvent = ToolContractPublished | ToolContractWithdrawn;

export const toolStream = (tenantId: string, tool: string): string => `tool:${tenantId}/${tool}`;

export const DATA_CLASSES: Readonly<Record<string, DataClass>> = {
  public: DataClass.PUBLIC,
  internal: DataClass.INTERNAL,
  confidential: DataClass.CONFIDENTIAL,
  pii: DataClass.PII,
  phi: DataClass.PHI,
  pci: DataClass.PCI,
  secret: DataClass.SECRET,
};

export const RISK_CLASSES: Readonly<Record<string, RiskClass>> = {
  low: RiskClass.LOW,
  medium: RiskClass.MEDIUM,
  high: RiskClass.HIGH,
  critical: RiskClass.CRITICAL,
};

const nameOf = <T>(table: Readonly<Record<string, T>>, value: T) =>
  Object.keys(table).find((k) => table[k] === value) ?? 'unspecified';
export const dataClassName = (value: DataClass) => nameOf(DATA_CLASSES, value);
export const riskClassName = (value: RiskClass) => nameOf(RISK_CLASSES, value);

export interface ToolActionInput {
  readonly name: string;
  readonly description?: string;
  /** low, medium, high or critical. */
  readonly riskClass: string;
  readonly requiresApproval?: boolean;
  readonly diffFrom?: string;
  readonly blastRadiusFrom?: string;
  readonly rollbackPath?: string;
  readonly auditEvent: string;
  /** How long an approval task for this action stays open (ms, 1 s to 30 days); 0 or absent = the approval service's default. */
  readonly approvalTtlMs?: number;
}

/** The bounds of a contract action's approval TTL. */
export const APPROVAL_TTL_MS = { min: 1000, max: 30 * 24 * 3_600_000 } as const;

/** A tool's definition as its owner publishes it (everything but version and digest). */
export interface ToolDefinitionInput {
  readonly tool: string;
  readonly description: string;
  readonly capabilities?: readonly string[];
  readonly mustNever?: readonly string[];
  readonly prohibitions?: readonly { readonly id: string; readonly description?: string; readonly when: string }[];
  readonly inputSchema: unknown;
  readonly outputSchema?: unknown;
  readonly dataClassesIn?: readonly string[];
  readonly dataClassesOut?: readonly string[];
  readonly rateLimit?: { readonly calls: number; readonly windowMs: number };
  readonly actions: readonly ToolActionInput[];
  readonly ownerTeam: string;
}

export interface ToolVersion {
  readonly contract: ToolContract;
  readonly withdrawn: boolean;
  readonly change: Change;
}

export interface ToolContractState {
  readonly tenantId: string;
  readonly tool: string;
  /** Every version, in publication order ("1", "2", ...). */
  readonly versions: ReadonlyMap<string, ToolVersion>;
}

interface ChangeBy {
  readonly by: string;
  readonly roles: readonly string[];
  readonly reason: string;
  readonly now: number;
}

export type ToolContractCommand =
  | ({
      readonly type: 'PublishToolContract';
      readonly tenantId: string;
      readonly definition: ToolDefinitionInput;
    } & ChangeBy)
  | ({
      readonly type: 'WithdrawToolContract';
      readonly tenantId: string;
      readonly tool: string;
      readonly version: string;
    } & ChangeBy);

const ajv = new Ajv2020({ strict: true, allErrors: false, validateSchema: true });
addFormats(ajv);

/** Checks that `schema` is a valid JSON Schema (draft 2020-12) that compiles; names the field at fault. */
function requireJsonSchema(schema: unknown, field: string): string {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    throw invalid('invalid_schema', `${field} must be a JSON Schema object`, field);
  if (!ajv.validateSchema(schema)) {
    const error = ajv.errors?.[0];
    const at = error?.instancePath ? `${field}${error.instancePath.replace(/\//g, '.')}` : field;
    throw invalid('invalid_schema', `${at}: ${error?.message ?? 'not a valid JSON Schema'}`, at);
  }
  try {
    ajv.compile(schema);
  } catch (error) {
    throw invalid('invalid_schema', `${field}: ${(error as Error).message}`, field);
  } finally {
    ajv.removeSchema(schema as object);
  }
  return canonicalJson(schema);
}

/** JSON with object keys sorted at every level: the same definition always has the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as object)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

export const definitionDigest = (contract: ToolContract): string =>
  `sha256:${createHash('sha256')
    .update(canonicalJson(plainDefinition(contract)))
    .digest('hex')}`;

function classesOf(names: readonly string[] | undefined, field: string): DataClass[] {
  return (names ?? []).map((name, i) => {
    const value = Object.prototype.hasOwnProperty.call(DATA_CLASSES, name) ? DATA_CLASSES[name] : undefined;
    if (value === undefined)
      throw invalid(
        'invalid_data_class',
        `${field}[${i}] must be one of ${Object.keys(DATA_CLASSES).join(', ')}`,
        `${field}[${i}]`,
      );
    return value;
  });
}

function text(value: string | undefined, field: string, code: string): string {
  if (!value || value.trim() === '') throw invalid(code, `${field} is required`, field);
  return value;
}

/** Validates a definition, naming the field at fault; returns the contract without version and digest. */
export function validDefinition(input: ToolDefinitionInput): ToolContract {
  requireId(input.tool, 'tool', 'invalid_tool');
  if (input.actions.length === 0) throw invalid('actions_required', 'actions must list at least one', 'actions');
  const names = new Set<string>();
  const actions = input.actions.map((a, i) => {
    const at = `actions[${i}]`;
    if (!isId(a.name))
      throw invalid('invalid_action', `${at}.name must be 1-128 letters, digits or ._:@-`, `${at}.name`);
    if (names.has(a.name)) throw invalid('duplicate_action', `action ${a.name} is listed twice`, `${at}.name`);
    names.add(a.name);
    const risk = Object.prototype.hasOwnProperty.call(RISK_CLASSES, a.riskClass)
      ? RISK_CLASSES[a.riskClass]
      : undefined;
    if (risk === undefined)
      throw invalid('invalid_risk_class', `${at}.riskClass must be low, medium, high or critical`, `${at}.riskClass`);
    for (const [key, pointer] of [
      ['diffFrom', a.diffFrom],
      ['blastRadiusFrom', a.blastRadiusFrom],
    ] as const)
      if (pointer && !/^(\/([^~/]|~[01])*)*$/.test(pointer))
        throw invalid('invalid_pointer', `${at}.${key} must be a JSON pointer (RFC 6901)`, `${at}.${key}`);
    const ttl = a.approvalTtlMs ?? 0;
    if (ttl !== 0 && (!Number.isSafeInteger(ttl) || ttl < APPROVAL_TTL_MS.min || ttl > APPROVAL_TTL_MS.max))
      throw invalid(
        'invalid_approval_ttl',
        `${at}.approvalTtlMs must be an integer from ${APPROVAL_TTL_MS.min} to ${APPROVAL_TTL_MS.max} ms (or absent)`,
        `${at}.approvalTtlMs`,
      );
    return create(ToolActionSchema, {
      name: a.name,
      description: a.description ?? '',
      riskClass: risk,
      requiresApproval: a.requiresApproval ?? false,
      diffFrom: a.diffFrom ?? '',
      blastRadiusFrom: a.blastRadiusFrom ?? '',
      rollbackPath: a.rollbackPath ?? '',
      auditEvent: text(a.auditEvent, `${at}.auditEvent`, 'audit_event_required'),
      approvalTtlMs: ttl,
    });
  });
  const prohibitionIds = new Set<string>();
  const prohibitions = (input.prohibitions ?? []).map((p, i) => {
    const at = `prohibitions[${i}]`;
    if (!isId(p.id))
      throw invalid('invalid_prohibition', `${at}.id must be 1-128 letters, digits or ._:@-`, `${at}.id`);
    if (prohibitionIds.has(p.id)) throw invalid('duplicate_prohibition', `prohibition ${p.id} twice`, `${at}.id`);
    prohibitionIds.add(p.id);
    return create(ProhibitionSchema, {
      id: p.id,
      description: p.description ?? '',
      when: text(p.when, `${at}.when`, 'prohibition_condition_required'),
    });
  });
  const rate = input.rateLimit;
  if (rate && (!Number.isInteger(rate.calls) || rate.calls < 1))
    throw invalid('invalid_rate_limit', 'rateLimit.calls must be a positive integer', 'rateLimit.calls');
  if (rate && (!Number.isInteger(rate.windowMs) || rate.windowMs < 1))
    throw invalid('invalid_rate_limit', 'rateLimit.windowMs must be a positive integer', 'rateLimit.windowMs');
  return create(ToolContractSchema, {
    tool: input.tool,
    description: text(input.description, 'description', 'description_required'),
    capabilities: [...(input.capabilities ?? [])],
    mustNever: [...(input.mustNever ?? [])],
    prohibitions,
    inputSchemaJson: requireJsonSchema(input.inputSchema, 'inputSchema'),
    outputSchemaJson: input.outputSchema === undefined ? '' : requireJsonSchema(input.outputSchema, 'outputSchema'),
    dataClassesIn: classesOf(input.dataClassesIn, 'dataClassesIn'),
    dataClassesOut: classesOf(input.dataClassesOut, 'dataClassesOut'),
    rateLimit: rate ? create(RateLimitSchema, { calls: rate.calls, windowMs: rate.windowMs }) : undefined,
    actions,
    ownerTeam: text(input.ownerTeam, 'ownerTeam', 'owner_required'),
  });
}

/** The plain, versionless definition of a contract: what the digest covers and what views show. */
export function plainDefinition(contract: ToolContract) {
  return {
    tool: contract.tool,
    description: contract.description,
    capabilities: [...contract.capabilities],
    mustNever: [...contract.mustNever],
    prohibitions: contract.prohibitions.map((p) => ({ id: p.id, description: p.description, when: p.when })),
    inputSchema: JSON.parse(contract.inputSchemaJson || 'null') as unknown,
    outputSchema: contract.outputSchemaJson ? (JSON.parse(contract.outputSchemaJson) as unknown) : undefined,
    dataClassesIn: contract.dataClassesIn.map(dataClassName),
    dataClassesOut: contract.dataClassesOut.map(dataClassName),
    rateLimit: contract.rateLimit
      ? { calls: contract.rateLimit.calls, windowMs: contract.rateLimit.windowMs }
      : undefined,
    actions: contract.actions.map((a) => ({
      name: a.name,
      description: a.description,
      riskClass: riskClassName(a.riskClass),
      requiresApproval: a.requiresApproval,
      diffFrom: a.diffFrom,
      blastRadiusFrom: a.blastRadiusFrom,
      rollbackPath: a.rollbackPath,
      auditEvent: a.auditEvent,
      // Absent when unset, so the digests of contracts without one stay what they were.
      approvalTtlMs: a.approvalTtlMs || undefined,
    })),
    ownerTeam: contract.ownerTeam,
  };
}

const changeOf = (c: ChangeBy): Change => create(ChangeSchema, { by: c.by, reason: c.reason, atMs: c.now });

/** The latest version that is not withdrawn. */
export function currentVersion(state: ToolContractState | undefined): ToolVersion | undefined {
  return [...(state?.versions.values() ?? [])].reverse().find((v) => !v.withdrawn);
}

/**
 * A tool's contract, versioned. Publishing the definition of the current version again changes
 * nothing; a changed definition becomes the next version, which agents must pin (accept) before
 * they may use it. A withdrawn version can no longer be pinned, and requests pinned to it are denied.
 */
export const toolContract: Decider<ToolContractCommand, ToolContractState | undefined, ToolContractEvent> = {
  initialState: undefined,

  decide(command, state) {
    requireRole(command, 'registry.tools.write');
    switch (command.type) {
      case 'PublishToolContract': {
        requireId(command.tenantId, 'tenantId', 'invalid_tenant_id');
        const definition = validDefinition(command.definition);
        const digest = definitionDigest(definition);
        if (currentVersion(state)?.contract.definitionDigest === digest) return [];
        const contract = create(ToolContractSchema, {
          ...definition,
          version: String((state?.versions.size ?? 0) + 1),
          definitionDigest: digest,
        });
        return [
          create(ToolContractPublishedSchema, { tenantId: command.tenantId, contract, change: changeOf(command) }),
        ];
      }
      case 'WithdrawToolContract': {
        if (command.reason.trim() === '') throw invalid('reason_required', 'a reason is required', 'reason');
        const version = state?.tenantId === command.tenantId ? state.versions.get(command.version) : undefined;
        if (!version) throw notFound('contract_not_found', `no contract ${command.tool} version ${command.version}`);
        if (version.withdrawn) throw conflict('already_withdrawn', `version ${command.version} is withdrawn`);
        return [
          create(ToolContractWithdrawnSchema, {
            tenantId: command.tenantId,
            tool: command.tool,
            version: command.version,
            change: changeOf(command),
          }),
        ];
      }
      default:
        return assertNever(command, 'command');
    }
  },

  evolve(state, event) {
    if (event.$typeName === 'warden.registry.v1.ToolContractPublished') {
      const contract = event.contract;
      if (!contract || (state && (state.tenantId !== event.tenantId || state.tool !== contract.tool))) return state;
      if (contract.version !== String((state?.versions.size ?? 0) + 1)) return state;
      const versions = new Map(state?.versions);
      versions.set(contract.version, { contract, withdrawn: false, change: event.change ?? create(ChangeSchema) });
      return { tenantId: event.tenantId, tool: contract.tool, versions };
    }
    if (event.$typeName === 'warden.registry.v1.ToolContractWithdrawn') {
      const version = state?.tenantId === event.tenantId ? state.versions.get(event.version) : undefined;
      if (!state || !version || version.withdrawn) return state;
      const versions = new Map(state.versions);
      versions.set(event.version, { ...version, withdrawn: true, change: event.change ?? create(ChangeSchema) });
      return { ...state, versions };
    }
    return state;
  },
};

/** What pinning needs to know of a tenant's tools: tool -> its contract state. */
export type ToolCatalogue = (tool: string) => ToolContractState | undefined;
