import {
  ALL_TOPICS,
  REPLY_TOPIC_PREFIX,
  replyTopic,
  tenantGroupPrefix,
  tenantReplyPrefix,
  encodeTopicPart,
  Topic,
  TopicName,
} from '@warden/contracts';
import { BrokerAcl, KafkaPort } from './port';

/**
 * Who may produce to and read which topic (docs/security.md): one table for every principal, from
 * which the chart's KafkaUsers (deploy/helm/generate.ts) and a broker's ACLs (`grantAccess`) are
 * both made, so the documentation, the chart and the tests cannot disagree.
 */

/** The six services, each a Kafka principal of its own. */
export const SERVICE_PRINCIPALS = ['registry', 'policy', 'budget', 'approval', 'trace', 'killswitch'] as const;
export type ServicePrincipal = (typeof SERVICE_PRINCIPALS)[number];

/** What agents write: raw input (arguments before redaction, proofs), read by the budget stage only. */
export const AGENT_INPUT: readonly TopicName[] = [Topic.gateRequests, Topic.gateOutcomes, Topic.gateRerouted];

/** Which Warden topics a service produces to and which it reads (topic names without the prefix). */
export interface ServiceTopics {
  readonly writes: readonly TopicName[];
  readonly reads: readonly TopicName[];
}

/**
 * From the services' processors, tables, projections and command gateways. A processor rebuilds
 * its state from its own output (its changelog), so every service also reads what it writes;
 * every consumer may dead-letter. Checked on a broker with the authorizer on by
 * test/e2e/access.e2e.spec.ts, which runs the whole gate flow with each service as its own principal.
 */
export const SERVICE_TOPICS: Record<ServicePrincipal, ServiceTopics> = {
  registry: {
    writes: [Topic.registryEvents],
    reads: [Topic.budgetEvents],
  },
  policy: {
    writes: [Topic.gateDecisions, Topic.policyEvents, Topic.policyShadow],
    reads: [Topic.budgetReservations, Topic.approvalEvents, Topic.registryEvents, Topic.killswitchEvents],
  },
  budget: {
    // The only reader of agent input (docs/adr/0070); it forwards misrouted input to gate.rerouted.
    writes: [Topic.budgetReservations, Topic.budgetEvents, Topic.budgetHolds, Topic.budgetLedger, Topic.gateRerouted],
    reads: [Topic.gateRequests, Topic.gateOutcomes, Topic.gateDecisions, Topic.registryEvents, Topic.killswitchEvents],
  },
  approval: {
    writes: [Topic.approvalEvents, Topic.approvalCommands],
    reads: [Topic.gateDecisions, Topic.killswitchEvents, Topic.registryEvents],
  },
  trace: {
    // The system of record reads every topic but the raw agent input (replay and rebuild).
    writes: [Topic.traceAuditQueue, Topic.traceAudit, Topic.traceHolds],
    reads: ALL_TOPICS.filter((t) => !AGENT_INPUT.includes(t)),
  },
  killswitch: {
    writes: [Topic.killswitchEvents],
    reads: [Topic.registryEvents, Topic.gateDecisions, Topic.budgetReservations],
  },
};

/** The topics an agent principal may produce to. Everything else is internal. */
export const AGENT_WRITES: readonly TopicName[] = [Topic.gateRequests, Topic.gateOutcomes];

/**
 * The HTTP gate (apps/gateway, ADR 0119) writes agent input on behalf of the agents that call it,
 * each request proved by the agent's own key, and reads what it needs to answer them: the
 * registry's keys (to verify agent tokens) and the reply topics of the agents it serves. It is not
 * one of the six services: it writes no topic of record and no dead letters.
 */
export const GATEWAY_TOPICS: ServiceTopics = {
  writes: AGENT_WRITES,
  reads: [Topic.registryEvents],
};

/** What a downstream subscriber (a SIEM, a data warehouse) reads by default: decisions, kill switches, the audit chain. */
export const SUBSCRIBER_TOPICS: readonly TopicName[] = [Topic.gateDecisions, Topic.killswitchEvents, Topic.traceAudit];

export type AclOperation = 'Read' | 'Write' | 'Describe' | 'Create' | 'Delete';

/** One ACL, as Strimzi's KafkaUser (v1) spells it; `name` is relative to the topic prefix. */
export interface Acl {
  readonly resource: {
    readonly type: 'topic' | 'group';
    readonly name: string;
    readonly patternType: 'literal' | 'prefix';
  };
  readonly operations: readonly AclOperation[];
}

/** A principal of the access table. */
export type Principal =
  | { readonly kind: 'service'; readonly service: ServicePrincipal }
  /** One agent: its own reply topic and consumer groups. */
  | { readonly kind: 'agent'; readonly tenantId: string; readonly agentId: string }
  /** All agents of one tenant under one principal: every reply topic of the tenant. */
  | { readonly kind: 'tenant-agents'; readonly tenantId: string }
  /** A downstream reader of events of record, never of agent input. */
  | { readonly kind: 'subscriber'; readonly name: string; readonly topics?: readonly TopicName[] }
  /** Operators' tools (lag, dead letters, replay): read every topic of record, write nothing. */
  | { readonly kind: 'operator'; readonly name: string }
  /** The HTTP gate (apps/gateway): agent input on the agents' behalf, every agent's replies. */
  | { readonly kind: 'gateway' };

/**
 * A principal as the tools name it: `service:<name>`, `agent:<tenant>/<agent>`,
 * `tenant-agents:<tenant>`, `subscriber:<name>[:<topic>,...]`, `operator:<name>`, `gateway`.
 */
export function parsePrincipal(text: string): Principal {
  const colon = text.indexOf(':');
  const [kind, arg] = colon < 0 ? [text, ''] : [text.slice(0, colon), text.slice(colon + 1)];
  const id = (what: string, value: string | undefined) => {
    if (!value) throw new Error(`the ${what} is missing in "${text}"`);
    return value;
  };
  switch (kind) {
    case 'service':
      if (!(SERVICE_PRINCIPALS as readonly string[]).includes(arg)) throw new Error(`unknown service "${arg}"`);
      return { kind: 'service', service: arg as ServicePrincipal };
    case 'agent': {
      const [tenantId, agentId, extra] = arg.split('/');
      if (extra !== undefined) throw new Error(`an agent is agent:<tenant>/<agent>, got "${text}"`);
      return { kind: 'agent', tenantId: id('tenant', tenantId), agentId: id('agent', agentId) };
    }
    case 'tenant-agents':
      return { kind: 'tenant-agents', tenantId: id('tenant', arg) };
    case 'subscriber': {
      const [name, list] = arg.split(':');
      if (list === undefined) return { kind: 'subscriber', name: id('name', name) };
      const topics = list.split(',').map((t) => {
        if (!(ALL_TOPICS as readonly string[]).includes(t)) throw new Error(`unknown topic "${t}"`);
        return t as TopicName;
      });
      return { kind: 'subscriber', name: id('name', name), topics };
    }
    case 'operator':
      return { kind: 'operator', name: id('name', arg) };
    case 'gateway':
      if (arg) throw new Error(`the gateway principal takes no argument, got "${text}"`);
      return { kind: 'gateway' };
    default:
      throw new Error(
        `unknown principal "${text}": service:, agent:, tenant-agents:, subscriber:, operator: or gateway`,
      );
  }
}

const topic = (name: string, operations: AclOperation[], patternType: 'literal' | 'prefix' = 'literal'): Acl => ({
  resource: { type: 'topic', name, patternType },
  operations,
});
/** Consumer groups: join and commit (Read), and delete its own when a client closes (Delete). */
const groups = (name: string): Acl => ({
  resource: { type: 'group', name, patternType: 'prefix' },
  operations: ['Read', 'Describe', 'Delete'],
});

/** The ACLs of one principal, topic and group names relative to the installation's prefix. */
export function aclsFor(principal: Principal): Acl[] {
  switch (principal.kind) {
    case 'service':
      return serviceAcls(principal.service);
    case 'agent':
      return [
        ...AGENT_WRITES.map((t) => topic(t, ['Write', 'Describe'])),
        topic(replyTopic(principal.tenantId, principal.agentId), ['Read', 'Describe']),
        groups(`${tenantGroupPrefix(principal.tenantId)}${encodeTopicPart(principal.agentId)}.`),
      ];
    case 'tenant-agents':
      return [
        ...AGENT_WRITES.map((t) => topic(t, ['Write', 'Describe'])),
        topic(tenantReplyPrefix(principal.tenantId), ['Read', 'Describe'], 'prefix'),
        groups(tenantGroupPrefix(principal.tenantId)),
      ];
    case 'subscriber': {
      const topics = principal.topics ?? SUBSCRIBER_TOPICS;
      const raw = topics.filter((t) => AGENT_INPUT.includes(t));
      if (raw.length > 0) throw new Error(`a subscriber never reads agent input (${raw.join(', ')})`);
      return [...topics.map((t) => topic(t, ['Read', 'Describe'])), groups(`subscriber.${principal.name}.`)];
    }
    case 'operator':
      return [
        ...ALL_TOPICS.filter((t) => !AGENT_INPUT.includes(t)).map((t) => topic(t, ['Read', 'Describe'])),
        groups(`ops.${principal.name}.`),
      ];
    case 'gateway':
      return [
        // Like a service, it checks at start that every Warden topic exists.
        topic('', ['Describe'], 'prefix'),
        ...GATEWAY_TOPICS.writes.map((t) => topic(t, ['Write', 'Describe'])),
        ...GATEWAY_TOPICS.reads.map((t) => topic(t, ['Read', 'Describe'])),
        topic(REPLY_TOPIC_PREFIX, ['Read', 'Describe'], 'prefix'),
        groups('gateway.'),
      ];
  }
}

/**
 * A service's ACLs: write (and read back) its own topics and the dead-letter topic, read its
 * inputs, describe every Warden topic (it checks at start that they all exist, and a topic it
 * cannot describe would look missing), and use consumer groups under the prefix. The registry
 * creates each agent's reply topic when it registers the agent; policy writes replies (and
 * creates a reply topic the registry has not).
 */
export function serviceAcls(service: ServicePrincipal): Acl[] {
  const { writes, reads } = SERVICE_TOPICS[service];
  const written = [...writes, Topic.deadLetter];
  const readOnly = [...new Set(reads)].filter((t) => !written.includes(t));
  const replies: Acl[] =
    service === 'registry'
      ? [topic(REPLY_TOPIC_PREFIX, ['Create', 'Describe'], 'prefix')]
      : service === 'policy'
        ? [topic(REPLY_TOPIC_PREFIX, ['Create', 'Write', 'Describe'], 'prefix')]
        : [];
  return [
    topic('', ['Describe'], 'prefix'),
    ...written.map((t) => topic(t, ['Write', 'Read', 'Describe'])),
    ...readOnly.map((t) => topic(t, ['Read', 'Describe'])),
    ...replies,
    groups(''),
  ];
}

/** The ACLs of `principal`, with the installation's prefix, as a broker stores them. */
export function brokerAcls(prefix: string, principal: Principal): BrokerAcl[] {
  return aclsFor(principal).map((a) => ({ ...a, resource: { ...a.resource, name: `${prefix}${a.resource.name}` } }));
}

/** Grants a SASL user the rights of `principal` under `prefix` (the provisioning's admin does this). */
export async function grantAccess(port: KafkaPort, prefix: string, user: string, principal: Principal): Promise<void> {
  await port.grant(user, brokerAcls(prefix, principal));
}

/**
 * The access table as docs/security.md shows it (Markdown, checked by access.spec.ts): per topic,
 * who writes it and who reads it.
 */
export function serviceTopicsTable(): string {
  const rows = ALL_TOPICS.map((t) => {
    const writers: string[] = SERVICE_PRINCIPALS.filter((s) => SERVICE_TOPICS[s].writes.includes(t));
    if (AGENT_WRITES.includes(t)) writers.push('agents (directly or through the gateway)');
    if (t === Topic.deadLetter) writers.push('every service');
    const readers: string[] = SERVICE_PRINCIPALS.filter(
      (s) => SERVICE_TOPICS[s].reads.includes(t) && !SERVICE_TOPICS[s].writes.includes(t),
    );
    if (GATEWAY_TOPICS.reads.includes(t)) readers.push('gateway');
    if (SUBSCRIBER_TOPICS.includes(t)) readers.push('subscribers');
    if (!AGENT_INPUT.includes(t)) readers.push('operators');
    return `| \`${t}\` | ${writers.join(', ')} | ${readers.join(', ') || '—'} |`;
  });
  return ['| topic | written by | read by (besides its writer) |', '| --- | --- | --- |', ...rows, ''].join('\n');
}
