import { AgentProfile, GateRequested, ToolContract } from '@warden/contracts';

/** What an approver needs besides the request, taken from the registry (see the service README). */
export interface TaskContext {
  readonly diff: string;
  readonly blastRadius: string;
  readonly rollbackPath: string;
  readonly ownerTeam: string;
  readonly ownerContact: string;
  readonly toolContractVersion: string;
  /** Who registered the agent (AgentRegistered.change.by): excluded from approving under separation of duties. */
  readonly registrant: string;
  /** The approval TTL the contract's action declares (ms; 0 = none: the rules decide). */
  readonly approvalTtlMs: number;
}

/** RFC 6901: the value a JSON pointer names in a document, or undefined. "" is the whole document. */
export function resolvePointer(document: unknown, pointer: string): unknown {
  if (pointer === '') return document;
  if (!pointer.startsWith('/')) return undefined;
  let current: unknown = document;
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      if (!/^(0|[1-9]\d*)$/.test(token)) return undefined;
      current = current[Number(token)];
    } else if (current !== null && typeof current === 'object' && Object.hasOwn(current, token)) {
      current = (current as Record<string, unknown>)[token];
    } else {
      return undefined;
    }
  }
  return current;
}

const render = (value: unknown): string =>
  value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);

/**
 * The task context of a request: the agent's owner from its profile; the diff and blast radius
 * by the JSON pointers of the tool contract's action (into the request's redacted arguments);
 * the rollback path of the action, else the agent's. A missing contract, action or pointer
 * target leaves the field empty. The registrant is the agent's, as the registry recorded it.
 */
export function taskContextOf(
  request: GateRequested,
  profile: AgentProfile | undefined,
  contract: ToolContract | undefined,
  registrant = '',
): TaskContext {
  const action = contract?.actions.find((a) => a.name === request.action);
  const args = request.redactedArguments ?? {};
  return {
    diff: action?.diffFrom !== undefined && action.diffFrom !== '' ? render(resolvePointer(args, action.diffFrom)) : '',
    blastRadius:
      action?.blastRadiusFrom !== undefined && action.blastRadiusFrom !== ''
        ? render(resolvePointer(args, action.blastRadiusFrom))
        : '',
    rollbackPath: action?.rollbackPath || profile?.rollbackPath || '',
    ownerTeam: profile?.owner?.team || contract?.ownerTeam || '',
    ownerContact: profile?.owner?.contact ?? '',
    toolContractVersion: contract?.version ?? '',
    registrant,
    approvalTtlMs: action?.approvalTtlMs ?? 0,
  };
}
