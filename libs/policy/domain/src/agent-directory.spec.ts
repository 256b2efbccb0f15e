import {
  AgentActivatedSchema,
  AgentRegisteredSchema,
  AgentSuspendedSchema,
  create,
  Envelope,
  Message,
} from '@warden/contracts';
import { AgentDirectory, evolveAgentDirectory } from './agent-directory';

const env = (data: Message): Envelope => ({
  id: 'e',
  type: data.$typeName,
  source: 's',
  time: 0,
  key: 'a',
  tenantId: 'acme',
  agentId: 'a',
  runId: '',
  data,
});
const fold = (...events: Message[]) =>
  events.reduce<AgentDirectory>((d, e) => evolveAgentDirectory(d, env(e)), new Map());

describe('agent directory (registry as the gate sees it)', () => {
  const registered = create(AgentRegisteredSchema, { agentId: 'a', tenantId: 'acme', version: 1 });
  const activated = create(AgentActivatedSchema, { agentId: 'a', tenantId: 'acme', version: 2 });

  it('follows the lifecycle', () => {
    expect(fold(registered).get('a')?.status).toBe('draft');
    expect(fold(registered, activated).get('a')?.status).toBe('active');
    expect(
      fold(registered, activated, create(AgentSuspendedSchema, { agentId: 'a', version: 3 })).get('a')?.status,
    ).toBe('suspended');
  });

  it('ignores duplicates and out-of-order versions', () => {
    const d = fold(registered, activated);
    expect(evolveAgentDirectory(d, env(activated))).toBe(d);
    expect(evolveAgentDirectory(d, env(create(AgentSuspendedSchema, { agentId: 'a', version: 5 })))).toBe(d);
    expect(fold(activated).size).toBe(0);
  });
});
