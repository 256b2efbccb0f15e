import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { ALL_TOPICS, encodeTopicPart, replyTopic, tenantGroupPrefix, Topic, TopicName } from '@warden/contracts';
import {
  AGENT_WRITES,
  parsePrincipal,
  KafkaSecurity,
  Principal,
  SERVICE_PRINCIPALS,
  SERVICE_TOPICS,
} from '@warden/platform';
import { eventually, freshDatabase, uniquePrefix } from '@warden/platform/testing';
import { WardenClient } from '@warden/sdk';
import { ContractPin, DEFAULT_PORTS, publishToolContracts, SERVICES, ServiceName, Stack } from '@warden/local-stack';
import { Identity, registerActiveAgent } from './http';
import { SecureBroker, SecuredStack, startSecuredStack } from './secure-broker';

/**
 * docs/security.md on a broker of its own with SASL and the StandardAuthorizer on: every service
 * runs as its own principal with the ACLs of the access table (libs/platform/src/kafka/access.ts),
 * agents with theirs. The gate decides end to end; every write or read the table does not grant
 * is refused by the broker.
 */
jest.setTimeout(300_000);

const prefix = uniquePrefix('access');
const logDir = join(__dirname, '..', '..', '.warden', 'e2e-logs', prefix);

/** The principals of this test: user name -> what the access table grants it, as `kafka-acls` names it. */
const GRANTS: Record<string, string> = {
  ...Object.fromEntries(SERVICE_PRINCIPALS.map((service) => [service, `service:${service}`])),
  'acme-invoice': 'agent:acme/invoice-bot',
  'acme-peer': 'agent:acme/peer-bot',
  'globex-agents': 'tenant-agents:globex',
  siem: 'subscriber:siem',
  ops: 'operator:ops',
};
const PRINCIPALS: Record<string, Principal> = Object.fromEntries(
  Object.entries(GRANTS).map(([user, text]) => [user, parsePrincipal(text)]),
);

describe('access control on the bus (SASL users, ACLs from the access table, authorizer on)', () => {
  const offset = 3000 + Math.floor(Math.random() * 50) * 10;
  const ports = Object.fromEntries(SERVICES.map((s) => [s, DEFAULT_PORTS[s] + offset])) as Record<ServiceName, number>;
  const acme: Identity = { subject: 'alice', roles: ['admin'], tenant: 'acme' };
  const globex: Identity = { subject: 'gina', roles: ['admin'], tenant: 'globex' };
  let secured: SecuredStack;
  let broker: SecureBroker;
  let db: { url: string; drop(): Promise<void> };
  let stack: Stack;
  const clients = new Map<string, WardenClient>();
  const kafkas: Kafka[] = [];

  const security = (user: string, password = broker.passwords[user]): KafkaSecurity => ({
    ssl: false,
    sasl: { mechanism: 'plain', username: user, password },
  });
  /** A raw client as `user`: what any program holding that principal's password can do. */
  const kafkaAs = (user: string, password?: string) => {
    const kafka = new Kafka({
      clientId: `access-${user}`,
      brokers: broker.brokers,
      logLevel: logLevel.NOTHING,
      sasl: { mechanism: 'plain', username: user, password: password ?? broker.passwords[user] },
      retry: { retries: 0 },
    });
    kafkas.push(kafka);
    return kafka;
  };

  /** Produces one record as `user`; resolves with the broker's error type, or 'ok'. */
  async function produce(user: string, topic: string): Promise<string> {
    const producer = kafkaAs(user).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    await producer.connect();
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: [{ key: 'run-forged', value: Buffer.from('{"approver":"nobody"}') }],
      });
      return 'ok';
    } catch (error) {
      return errorType(error);
    } finally {
      await producer.disconnect();
    }
  }

  /** Reads a topic from the beginning as `user`; resolves with the broker's error type, or 'ok' once a fetch answered. */
  async function read(user: string, topic: string): Promise<string> {
    const consumer = kafkaAs(user).consumer({
      groupId: `${prefix}${groupOf(PRINCIPALS[user])}${randomUUID()}`,
      retry: { retries: 0 },
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const outcome = new Promise<string>((resolve) => {
        consumer.on(consumer.events.FETCH, () => resolve('ok'));
        consumer.on(consumer.events.CRASH, (e) => resolve(errorType(e.payload.error)));
      });
      await consumer.run({ eachMessage: async () => undefined });
      return await outcome;
    } catch (error) {
      return errorType(error);
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }

  beforeAll(async () => {
    db = await freshDatabase('access');
    const agents = Object.fromEntries(
      Object.entries(GRANTS).filter(([user]) => !SERVICE_PRINCIPALS.includes(user as never)),
    );
    secured = await startSecuredStack({
      databaseUrl: db.url,
      topicPrefix: prefix,
      ports,
      logDir,
      principals: agents,
      env: { WARDEN_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), POLICY_AGENT_TOKENS: 'optional' },
    });
    ({ broker, stack } = secured);
    const pins: Record<string, ContractPin> = {};
    for (const who of [acme, globex]) {
      pins[who.tenant] = (
        await publishToolContracts(stack.urls.registry, who, {
          payroll: { description: 'the payroll system', ownerTeam: 'payroll', actions: [['read', 'low', false]] },
        })
      ).payroll;
    }
    for (const [who, agentId, user] of [
      [acme, 'invoice-bot', 'acme-invoice'],
      [acme, 'peer-bot', 'acme-peer'],
      [globex, 'globex-bot', 'globex-agents'],
    ] as const) {
      await registerActiveAgent(stack.urls.registry, who, agentId, [
        { tool: 'payroll', actions: ['read'], ...pins[who.tenant] },
      ]);
      clients.set(
        agentId,
        await WardenClient.connect({
          brokers: broker.brokers,
          topicPrefix: prefix,
          clientId: `access-${agentId}`,
          agent: { tenantId: who.tenant, agentId },
          security: security(user),
        }),
      );
    }
  });

  afterAll(async () => {
    for (const c of clients.values()) await c.close();
    await secured?.stop();
    await db?.drop();
  });

  const gate = (agentId: string, tenantId: string, runId: string) =>
    clients.get(agentId)!.gate(
      {
        tenantId,
        agentId,
        runId,
        environment: 'prod',
        action: { kind: 'tool_call', tool: 'payroll', name: 'read' },
        estimatedTokens: 10,
      },
      { timeoutMs: 10_000 },
    );

  it('the gate decides end to end with each service as its own principal and each agent with only its rights', async () => {
    for (const [agentId, tenantId] of [
      ['invoice-bot', 'acme'],
      ['globex-bot', 'globex'],
    ]) {
      const result = await eventually(
        async () => {
          const r = await gate(agentId, tenantId, `run-${agentId}`);
          return r.verdict === 'allow' ? r : undefined;
        },
        60_000,
        `an allow for ${agentId}`,
      );
      expect(result.decision!.context!.reservation).toMatchObject({ granted: true });
    }
    // No service was refused anything: the table grants what the services use.
    for (const service of SERVICES) {
      expect(stack.processes[service].exitCode).toBeNull();
      const log = readFileSync(join(logDir, `${service}.log`), 'utf8');
      expect([service, log.match(/.*(AUTHORIZATION_FAILED|[Nn]ot authorized).*/)?.[0]]).toEqual([service, undefined]);
    }
  });

  it('an agent principal can produce to no internal topic: forged approvals, votes, grants, decisions are refused', async () => {
    const internal = ALL_TOPICS.filter((t) => !AGENT_WRITES.includes(t));
    expect(internal).toEqual(
      expect.arrayContaining([Topic.approvalEvents, Topic.approvalCommands, Topic.gateDecisions]),
    );
    for (const user of ['acme-invoice', 'globex-agents']) {
      for (const t of internal)
        expect([user, t, await produce(user, `${prefix}${t}`)]).toEqual([user, t, 'TOPIC_AUTHORIZATION_FAILED']);
      // A forged decision on another agent's reply topic is refused too.
      expect(await produce(user, `${prefix}${replyTopic('acme', 'peer-bot')}`)).toBe('TOPIC_AUTHORIZATION_FAILED');
      for (const t of AGENT_WRITES) expect(await produce(user, `${prefix}${t}`)).toBe('ok');
    }
  });

  it('an agent reads only its own replies: not another agent’s, not another tenant’s, not the internal topics', async () => {
    expect(await read('acme-invoice', `${prefix}${replyTopic('acme', 'invoice-bot')}`)).toBe('ok');
    for (const t of [
      replyTopic('acme', 'peer-bot'),
      replyTopic('globex', 'globex-bot'),
      Topic.gateDecisions,
      Topic.gateRequests,
      Topic.approvalEvents,
    ]) {
      expect([t, await read('acme-invoice', `${prefix}${t}`)]).toEqual([t, 'TOPIC_AUTHORIZATION_FAILED']);
    }
    // A tenant's agents under one principal read every reply topic of their tenant, and no other tenant's.
    expect(await read('globex-agents', `${prefix}${replyTopic('globex', 'globex-bot')}`)).toBe('ok');
    expect(await read('globex-agents', `${prefix}${replyTopic('acme', 'invoice-bot')}`)).toBe(
      'TOPIC_AUTHORIZATION_FAILED',
    );
  });

  it('a downstream subscriber and an operator read events of record, never agent input, and write nothing', async () => {
    expect(await read('siem', `${prefix}${Topic.gateDecisions}`)).toBe('ok');
    expect(await read('ops', `${prefix}${Topic.deadLetter}`)).toBe('ok');
    for (const user of ['siem', 'ops']) {
      for (const t of [Topic.gateRequests, Topic.gateOutcomes]) {
        expect([user, t, await read(user, `${prefix}${t}`)]).toEqual([user, t, 'TOPIC_AUTHORIZATION_FAILED']);
      }
      expect(await produce(user, `${prefix}${Topic.gateDecisions}`)).toBe('TOPIC_AUTHORIZATION_FAILED');
    }
  });

  it('a service writes only its own topics: only policy decides, only approval resolves approvals', async () => {
    for (const service of SERVICE_PRINCIPALS) {
      const own = new Set<TopicName>([...SERVICE_TOPICS[service].writes, Topic.deadLetter]);
      for (const t of [Topic.gateDecisions, Topic.approvalEvents, Topic.registryEvents, Topic.killswitchEvents]) {
        if (own.has(t)) continue;
        expect([service, t, await produce(service, `${prefix}${t}`)]).toEqual([
          service,
          t,
          'TOPIC_AUTHORIZATION_FAILED',
        ]);
      }
    }
  });

  it('a wrong password is refused', async () => {
    const producer = kafkaAs('acme-invoice', 'not-the-password').producer();
    await expect(producer.connect()).rejects.toThrow(/SASL PLAIN authentication failed/);
  });
});

/** The consumer-group prefix a principal may use (docs/security.md). */
function groupOf(principal: Principal): string {
  switch (principal.kind) {
    case 'agent':
      return `${tenantGroupPrefix(principal.tenantId)}${encodeTopicPart(principal.agentId)}.`;
    case 'tenant-agents':
      return tenantGroupPrefix(principal.tenantId);
    case 'subscriber':
      return `subscriber.${principal.name}.`;
    case 'operator':
      return `ops.${principal.name}.`;
    case 'service':
      return '';
    case 'gateway':
      return 'gateway.';
  }
}

/** The broker's error code; kafkajs reports a refused produce only in its message. */
function errorType(error: unknown): string {
  const e = error as { type?: string; cause?: { type?: string }; message?: string };
  if (/Topic authorization failed/.test(e.message ?? '')) return 'TOPIC_AUTHORIZATION_FAILED';
  return e.type ?? e.cause?.type ?? e.message ?? String(error);
}
