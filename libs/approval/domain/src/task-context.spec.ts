import {
  AgentProfileSchema,
  create,
  GateRequestedSchema,
  OwnerSchema,
  ToolActionSchema,
  ToolContractSchema,
} from '@warden/contracts';
import { resolvePointer, taskContextOf } from './task-context';

describe('task context from the registry', () => {
  const request = create(GateRequestedSchema, {
    tool: 'payments',
    action: 'transfer',
    redactedArguments: { change: { amount: 12000, to: 'acct-2' }, accounts: ['acct-1', 'acct-2'], 'a/b': 1 },
  });
  const contract = create(ToolContractSchema, {
    tool: 'payments',
    version: '2.0.0',
    ownerTeam: 'treasury',
    actions: [
      create(ToolActionSchema, {
        name: 'transfer',
        diffFrom: '/change',
        blastRadiusFrom: '/accounts',
        rollbackPath: 'reverse the transfer',
        approvalTtlMs: 3_600_000,
      }),
      create(ToolActionSchema, { name: 'refund' }),
    ],
  });
  const profile = create(AgentProfileSchema, {
    owner: create(OwnerSchema, { team: 'payments', contact: 'olga' }),
    rollbackPath: 'pause the agent',
  });

  it('resolves RFC 6901 pointers, with escapes and array indexes', () => {
    expect(resolvePointer(request.redactedArguments, '/change/amount')).toBe(12000);
    expect(resolvePointer(request.redactedArguments, '/accounts/1')).toBe('acct-2');
    expect(resolvePointer(request.redactedArguments, '/a~1b')).toBe(1);
    expect(resolvePointer(request.redactedArguments, '/accounts/x')).toBeUndefined();
    expect(resolvePointer(request.redactedArguments, 'change')).toBeUndefined();
    expect(resolvePointer(request.redactedArguments, '/missing/deeper')).toBeUndefined();
  });

  it("takes diff and blast radius from the action's pointers, rollback from the action, owner from the profile", () => {
    expect(taskContextOf(request, profile, contract, 'alice')).toEqual({
      diff: '{"amount":12000,"to":"acct-2"}',
      blastRadius: '["acct-1","acct-2"]',
      rollbackPath: 'reverse the transfer',
      ownerTeam: 'payments',
      ownerContact: 'olga',
      toolContractVersion: '2.0.0',
      registrant: 'alice',
      approvalTtlMs: 3_600_000,
    });
  });

  it("falls back to the agent's rollback path and the contract's owner team; leaves unknowns empty", () => {
    expect(taskContextOf(create(GateRequestedSchema, { ...request, action: 'refund' }), undefined, contract)).toEqual({
      diff: '',
      blastRadius: '',
      rollbackPath: '',
      ownerTeam: 'treasury',
      ownerContact: '',
      toolContractVersion: '2.0.0',
      registrant: '',
      approvalTtlMs: 0,
    });
    expect(taskContextOf(request, profile, undefined)).toMatchObject({ rollbackPath: 'pause the agent', diff: '' });
  });
});
