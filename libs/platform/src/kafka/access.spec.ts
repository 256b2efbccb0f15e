import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_TOPICS, Topic } from '@warden/contracts';
import {
  aclsFor,
  AGENT_INPUT,
  AGENT_WRITES,
  brokerAcls,
  parsePrincipal,
  SERVICE_PRINCIPALS,
  SERVICE_TOPICS,
  serviceTopicsTable,
} from './access';

const SECURITY_MD = join(__dirname, '..', '..', '..', '..', 'docs', 'security.md');

describe('the access table (who may write and read which topic)', () => {
  it('has one writer per topic of record: a service, or the agents for their input', () => {
    for (const t of ALL_TOPICS) {
      if (t === Topic.deadLetter) continue;
      const writers = SERVICE_PRINCIPALS.filter((s) => SERVICE_TOPICS[s].writes.includes(t));
      const byAgents = AGENT_WRITES.includes(t);
      expect({ topic: t, writers: writers.length + (byAgents ? 1 : 0) }).toEqual({ topic: t, writers: 1 });
    }
  });

  it('lets only the budget stage read raw agent input, and no agent read anything but its replies', () => {
    for (const s of SERVICE_PRINCIPALS) {
      const raw = SERVICE_TOPICS[s].reads.filter((t) => AGENT_INPUT.includes(t));
      expect({ service: s, raw }).toEqual({
        service: s,
        raw: s === 'budget' ? [Topic.gateRequests, Topic.gateOutcomes] : [],
      });
    }
    const agent = aclsFor({ kind: 'agent', tenantId: 'acme', agentId: 'bot' });
    const readable = agent.filter((a) => a.resource.type === 'topic' && a.operations.includes('Read'));
    expect(readable.map((a) => [a.resource.name, a.resource.patternType])).toEqual([['replies.acme.bot', 'literal']]);
    const writable = agent.filter((a) => a.operations.includes('Write')).map((a) => a.resource.name);
    expect(writable).toEqual([Topic.gateRequests, Topic.gateOutcomes]);
  });

  it('scopes one agent to its own groups, and a tenant principal to its tenant, never a prefix of another tenant', () => {
    const agent = aclsFor({ kind: 'agent', tenantId: 'acme', agentId: 'bot' });
    expect(agent.find((a) => a.resource.type === 'group')?.resource).toEqual({
      type: 'group',
      name: 'sdk.acme.bot.',
      patternType: 'prefix',
    });
    // "acme" must not cover "acme2": every prefix ends with the separator.
    const tenant = aclsFor({ kind: 'tenant-agents', tenantId: 'acme' });
    for (const a of tenant.filter((x) => x.resource.patternType === 'prefix')) expect(a.resource.name).toMatch(/\.$/);
  });

  it('refuses a subscriber that asks for agent input, and never gives an operator write access', () => {
    expect(() => aclsFor({ kind: 'subscriber', name: 'siem', topics: [Topic.gateRequests] })).toThrow(/agent input/);
    const ops = aclsFor({ kind: 'operator', name: 'ops' });
    const topics = ops.filter((a) => a.resource.type === 'topic');
    expect(topics.filter((a) => a.operations.some((o) => o !== 'Read' && o !== 'Describe'))).toEqual([]);
    expect(ops.map((a) => a.resource.name)).not.toContain(Topic.gateRequests);
  });

  it('lets the gateway write agent input and read replies and the registry, and nothing else', () => {
    const gateway = aclsFor({ kind: 'gateway' });
    const topics = gateway.filter((a) => a.resource.type === 'topic');
    const writable = topics.filter((a) => a.operations.includes('Write')).map((a) => a.resource.name);
    expect(writable).toEqual([Topic.gateRequests, Topic.gateOutcomes]);
    const readable = topics.filter((a) => a.operations.includes('Read'));
    expect(readable.map((a) => [a.resource.name, a.resource.patternType])).toEqual([
      [Topic.registryEvents, 'literal'],
      ['replies.', 'prefix'],
    ]);
    expect(topics.flatMap((a) => a.operations).filter((o) => o === 'Create' || o === 'Delete')).toEqual([]);
    expect(gateway.find((a) => a.resource.type === 'group')?.resource).toEqual({
      type: 'group',
      name: 'gateway.',
      patternType: 'prefix',
    });
    expect(parsePrincipal('gateway')).toEqual({ kind: 'gateway' });
    expect(() => parsePrincipal('gateway:x')).toThrow(/no argument/);
  });

  it('names every ACL under the installation prefix on the broker', () => {
    for (const a of brokerAcls('dev.me.', { kind: 'service', service: 'policy' }))
      expect(a.resource.name).toMatch(/^dev\.me\./);
  });

  it('is the table docs/security.md shows (the expected table below is what to paste there)', () => {
    const doc = readFileSync(SECURITY_MD, 'utf8');
    const shown = /<!-- access-table:start -->([\s\S]*?)<!-- access-table:end -->/.exec(doc)?.[1] ?? '';
    expect(cells(shown)).toEqual(cells(serviceTopicsTable()));
  });
});

/** A Markdown table's cells, whatever its column padding (the formatter aligns it). */
function cells(table: string): string[][] {
  return table
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|[\s|:-]+\|$/.test(line))
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
}

describe('principals as the tools name them', () => {
  it('parses each kind, and refuses what is not one', () => {
    expect(parsePrincipal('service:policy')).toEqual({ kind: 'service', service: 'policy' });
    expect(parsePrincipal('agent:acme/invoice-bot')).toEqual({
      kind: 'agent',
      tenantId: 'acme',
      agentId: 'invoice-bot',
    });
    expect(parsePrincipal('tenant-agents:acme')).toEqual({ kind: 'tenant-agents', tenantId: 'acme' });
    expect(parsePrincipal('subscriber:siem:gate.decisions,trace.audit')).toEqual({
      kind: 'subscriber',
      name: 'siem',
      topics: ['gate.decisions', 'trace.audit'],
    });
    expect(parsePrincipal('operator:ops')).toEqual({ kind: 'operator', name: 'ops' });
    expect(() => parsePrincipal('service:payroll')).toThrow(/unknown service "payroll"/);
    expect(() => parsePrincipal('agent:acme')).toThrow(/agent is missing/);
    expect(() => parsePrincipal('agent:acme/a/b')).toThrow(/agent:<tenant>\/<agent>/);
    expect(() => parsePrincipal('subscriber:siem:gate.nothing')).toThrow(/unknown topic "gate.nothing"/);
    expect(() => parsePrincipal('root')).toThrow(/unknown principal "root"/);
  });
});
