import { Input } from '@warden/platform';
import { ProfileInput } from '@warden/registry-domain';

/** Reads the profile fields of a request body; the domain validates what they mean. */
export function profileOf(input: Input): ProfileInput {
  const owner = input.object('owner', { optional: true });
  return {
    mission: input.string('mission', { optional: true, max: 2000 }),
    owner: {
      team: owner.string('team', { optional: true, max: 200 }),
      contact: owner.string('contact', { optional: true, max: 500 }),
    },
    businessProcess: input.string('businessProcess', { optional: true, max: 200 }),
    model: input.string('model', { optional: true, max: 200 }),
    tools: input.objects('tools', { optional: true }).map((tool) => ({
      tool: tool.string('tool', { optional: true, max: 128 }),
      actions: tool.strings('actions', { optional: true }),
      contractVersion: tool.string('contractVersion', { optional: true, max: 128 }),
      definitionDigest: tool.string('definitionDigest', { optional: true, max: 256 }),
    })),
    memory: input.objects('memory', { optional: true }).map((memory) => ({
      store: memory.string('store', { optional: true, max: 200 }),
      memoryClass: memory.string('memoryClass', { optional: true, max: 32 }),
      read: memory.bool('read', true),
      write: memory.bool('write', false),
    })),
    forbiddenMemoryClasses: input.strings('forbiddenMemoryClasses', { optional: true }),
    environments: input.strings('environments', { optional: true }),
    autonomyLevel: input.int('autonomyLevel'),
    shutdownPath: input.string('shutdownPath', { optional: true, max: 2000 }),
    rollbackPath: input.string('rollbackPath', { optional: true, max: 2000 }),
    delegatesTo: input.strings('delegatesTo', { optional: true }),
    budgetProfile: input.string('budgetProfile', { optional: true, max: 200 }),
    labels: input.record('labels'),
  };
}
