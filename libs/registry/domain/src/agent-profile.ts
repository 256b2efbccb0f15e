import {
  AgentProfile,
  AgentProfileSchema,
  create,
  MemoryAccessSchema,
  MemoryClass,
  OwnerSchema,
  ToolGrantSchema,
} from '@warden/contracts';
import { invalid } from '@warden/kernel';

/** A tool the agent may use and the actions (permission envelope) it may take with it. */
export interface ToolGrantInput {
  readonly tool: string;
  readonly actions: readonly string[];
  readonly contractVersion?: string;
  readonly definitionDigest?: string;
}

export interface MemoryAccessInput {
  readonly store: string;
  /** One of MEMORY_CLASSES. */
  readonly memoryClass: string;
  readonly read: boolean;
  readonly write: boolean;
}

/** An agent's profile as plain data: what commands carry and what views show. */
export interface ProfileInput {
  readonly mission: string;
  readonly owner: { readonly team: string; readonly contact?: string };
  readonly businessProcess?: string;
  readonly model?: string;
  readonly tools?: readonly ToolGrantInput[];
  readonly memory?: readonly MemoryAccessInput[];
  readonly forbiddenMemoryClasses?: readonly string[];
  readonly environments: readonly string[];
  /** See AUTONOMY_LEVELS. */
  readonly autonomyLevel: number;
  readonly shutdownPath?: string;
  readonly rollbackPath?: string;
  readonly delegatesTo?: readonly string[];
  readonly budgetProfile?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** How far an agent may act on its own. */
export const AUTONOMY_LEVELS = [
  'suggest only',
  'act with approval on every tool call',
  'act within low risk',
  'act within medium risk',
  'fully autonomous within budgets',
] as const;

export const MEMORY_CLASSES: Readonly<Record<string, MemoryClass>> = {
  working: MemoryClass.WORKING,
  session: MemoryClass.SESSION,
  durable: MemoryClass.DURABLE,
  shared: MemoryClass.SHARED,
};

const ID = /^[A-Za-z0-9._:@-]{1,128}$/;
const ID_RULE = '1-128 letters, digits or ._:@-';

export const isId = (value: string): boolean => ID.test(value);

export function requireId(value: string, field: string, code: string): void {
  if (!isId(value)) throw invalid(code, `${field} must be ${ID_RULE}`, field);
}

function requireText(value: string | undefined, field: string, code: string): string {
  if (!value || value.trim().length === 0) throw invalid(code, `${field} is required`, field);
  return value;
}

function memoryClassOf(name: string, field: string): MemoryClass {
  const value = Object.prototype.hasOwnProperty.call(MEMORY_CLASSES, name) ? MEMORY_CLASSES[name] : undefined;
  if (value === undefined) {
    throw invalid('invalid_memory_class', `${field} must be one of ${Object.keys(MEMORY_CLASSES).join(', ')}`, field);
  }
  return value;
}

export function memoryClassName(value: MemoryClass): string {
  return Object.keys(MEMORY_CLASSES).find((name) => MEMORY_CLASSES[name] === value) ?? 'unspecified';
}

function toolsOf(tools: readonly ToolGrantInput[]) {
  const seen = new Set<string>();
  return tools.map((grant, i) => {
    const at = `tools[${i}]`;
    if (!isId(grant.tool)) throw invalid('invalid_tool', `${at}.tool must be ${ID_RULE}`, `${at}.tool`);
    if (seen.has(grant.tool)) throw invalid('duplicate_tool', `tool ${grant.tool} is granted twice`, `${at}.tool`);
    seen.add(grant.tool);
    if (grant.actions.length === 0)
      throw invalid('missing_actions', `${at}.actions must name at least one action`, `${at}.actions`);
    grant.actions.forEach((action, j) => {
      if (!isId(action))
        throw invalid('invalid_action', `${at}.actions[${j}] must be ${ID_RULE}`, `${at}.actions[${j}]`);
    });
    if (new Set(grant.actions).size !== grant.actions.length)
      throw invalid('duplicate_action', `${at}.actions lists an action twice`, `${at}.actions`);
    return create(ToolGrantSchema, {
      tool: grant.tool,
      actions: [...grant.actions],
      contractVersion: grant.contractVersion ?? '',
      definitionDigest: grant.definitionDigest ?? '',
    });
  });
}

function idsOf(values: readonly string[], field: string, code: string): string[] {
  values.forEach((value, i) => requireId(value, `${field}[${i}]`, code));
  return [...values];
}

/** Validates a profile, naming the field at fault, and returns it in wire form. */
export function validProfile(input: ProfileInput): AgentProfile {
  const mission = requireText(input.mission, 'mission', 'mission_required');
  const team = requireText(input.owner?.team, 'owner.team', 'owner_required');
  if (
    !Number.isInteger(input.autonomyLevel) ||
    input.autonomyLevel < 0 ||
    input.autonomyLevel >= AUTONOMY_LEVELS.length
  )
    throw invalid(
      'invalid_autonomy_level',
      `autonomyLevel must be an integer from 0 to ${AUTONOMY_LEVELS.length - 1}`,
      'autonomyLevel',
    );
  if (input.environments.length === 0)
    throw invalid('environments_required', 'environments must list at least one environment', 'environments');
  return create(AgentProfileSchema, {
    mission,
    owner: create(OwnerSchema, { team, contact: input.owner.contact ?? '' }),
    businessProcess: input.businessProcess ?? '',
    model: input.model ?? '',
    tools: toolsOf(input.tools ?? []),
    memory: (input.memory ?? []).map((m, i) => {
      const at = `memory[${i}]`;
      return create(MemoryAccessSchema, {
        store: requireText(m.store, `${at}.store`, 'invalid_memory_store'),
        memoryClass: memoryClassOf(m.memoryClass, `${at}.memoryClass`),
        read: m.read,
        write: m.write,
      });
    }),
    forbiddenMemoryClasses: (input.forbiddenMemoryClasses ?? []).map((name, i) =>
      memoryClassOf(name, `forbiddenMemoryClasses[${i}]`),
    ),
    environments: idsOf(input.environments, 'environments', 'invalid_environment'),
    autonomyLevel: input.autonomyLevel,
    shutdownPath: input.shutdownPath ?? '',
    rollbackPath: input.rollbackPath ?? '',
    delegatesTo: idsOf(input.delegatesTo ?? [], 'delegatesTo', 'invalid_delegate'),
    budgetProfile: input.budgetProfile ?? '',
    labels: { ...input.labels },
  });
}

/** The plain form of a profile in wire form (memory classes by name), for views and read models. */
export function plainProfile(profile: AgentProfile): Required<ProfileInput> {
  return {
    mission: profile.mission,
    owner: { team: profile.owner?.team ?? '', contact: profile.owner?.contact ?? '' },
    businessProcess: profile.businessProcess,
    model: profile.model,
    tools: profile.tools.map((t) => ({
      tool: t.tool,
      actions: [...t.actions],
      contractVersion: t.contractVersion,
      definitionDigest: t.definitionDigest,
    })),
    memory: profile.memory.map((m) => ({
      store: m.store,
      memoryClass: memoryClassName(m.memoryClass),
      read: m.read,
      write: m.write,
    })),
    forbiddenMemoryClasses: profile.forbiddenMemoryClasses.map(memoryClassName),
    environments: [...profile.environments],
    autonomyLevel: profile.autonomyLevel,
    shutdownPath: profile.shutdownPath,
    rollbackPath: profile.rollbackPath,
    delegatesTo: [...profile.delegatesTo],
    budgetProfile: profile.budgetProfile,
    labels: { ...profile.labels },
  };
}
