import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { encode, KillSwitchReleasedSchema, ScopeSchema, Topic, topicName } from '@warden/contracts';
import { deriveAuthorityKey, DLQ, KafkaPort, signAuthority } from '@warden/platform';
import {
  connectedPort,
  freshDatabase,
  kafkaBrokers,
  eventually,
  TopicRecorder,
  uniquePrefix,
} from '@warden/platform/testing';
import { WardenClient } from '@warden/sdk';
import {
  ContractPin,
  DEFAULT_PORTS,
  publishToolContracts,
  SERVICES,
  ServiceName,
  Stack,
  startStack,
} from '@warden/local-stack';
import { call, Identity, registerActiveAgent } from './http';

/**
 * Invariant 5 across six processes: once the engage call has returned, no request in the
 * switch's scope is allowed — while requests are being driven at the moment it is engaged, and
 * after policy, budget and approval restart with the switch still active.
 */
jest.setTimeout(240_000);

describe('the kill switch, end to end across six processes', () => {
  const prefix = uniquePrefix('e2e-ks');
  const offset = 1500 + Math.floor(Math.random() * 50) * 10;
  const ports = Object.fromEntries(SERVICES.map((s) => [s, DEFAULT_PORTS[s] + offset])) as Record<ServiceName, number>;
  const admin: Identity = { subject: 'alice', roles: ['admin'], tenant: 'acme' };
  const sre: Identity = { subject: 'sam', roles: ['sre'], tenant: 'acme' };
  let db: { url: string; drop(): Promise<void> };
  let stack: Stack;
  const clients = new Map<string, WardenClient>();
  let payroll: ContractPin;

  const gate = (agentId: string, runId: string) =>
    clients.get(agentId)!.gate(
      {
        tenantId: 'acme',
        agentId,
        runId,
        environment: 'prod',
        action: { kind: 'tool_call', tool: 'payroll', name: 'read' },
        estimatedTokens: 1,
      },
      { timeoutMs: 15_000 },
    );

  async function registerAgent(agentId: string) {
    await registerActiveAgent(stack.urls.registry, admin, agentId, [
      { tool: 'payroll', actions: ['read'], ...payroll },
    ]);
    const agent = { tenantId: 'acme', agentId };
    clients.set(agentId, await WardenClient.connect({ brokers: kafkaBrokers(), topicPrefix: prefix, agent }));
  }

  beforeAll(async () => {
    db = await freshDatabase('e2e_ks');
    stack = await startStack({
      brokers: kafkaBrokers().join(','),
      databaseUrl: db.url,
      topicPrefix: prefix,
      ports,
      logDir: join(__dirname, '..', '..', '.warden', 'e2e-logs', prefix),
      // These agents are identified by their registration; agent tokens are tested elsewhere.
      env: { POLICY_AGENT_TOKENS: 'optional' },
    });
    ({ payroll } = await publishToolContracts(stack.urls.registry, admin, {
      payroll: { description: 'the payroll system', ownerTeam: 'payroll', actions: [['read', 'low', false]] },
    }));
    await registerAgent('payroll-bot');
    await registerAgent('ledger-bot');
    await eventually(
      async () => (await gate('payroll-bot', 'run-warmup')).verdict === 'allow',
      30_000,
      'the registry to reach the gate',
    );
  });

  afterAll(async () => {
    for (const c of clients.values()) await c.close();
    if (stack) await stack.stop();
    await db?.drop();
  });

  it('drives requests while engaging: after the engage call returned, zero requests in scope are allowed', async () => {
    type Sent = { agentId: string; sentAt: number; verdict: string };
    const sent: Sent[] = [];
    let driving = true;
    let n = 0;
    const driver = async (agentId: string) => {
      while (driving) {
        const runId = `run-${agentId}-${n++}`;
        const sentAt = performance.now();
        const r = await gate(agentId, runId);
        sent.push({ agentId, sentAt, verdict: r.verdict });
      }
    };
    const drivers = [
      ...Array.from({ length: 4 }, () => driver('payroll-bot')),
      ...Array.from({ length: 2 }, () => driver('ledger-bot')),
    ];
    let returnedAt = 0;
    try {
      // Enough samples on each side of the engage (waits, not timed assertions: a busy machine is slower).
      await eventually(
        () => sent.filter((s) => s.agentId === 'payroll-bot' && s.verdict === 'allow').length >= 10,
        60_000,
      );
      const engaged = await call(stack.urls.killswitch, 'POST', '/killswitches', sre, {
        switchId: 'ks-e2e',
        scope: { tenantId: 'acme', agentId: 'payroll-bot' },
        reason: 'paying the wrong accounts',
      });
      returnedAt = performance.now();
      expect(engaged.status).toBe(201);
      await eventually(
        () => sent.filter((s) => s.sentAt > returnedAt && s.agentId === 'payroll-bot').length >= 40,
        90_000,
      );
      await eventually(
        () => sent.filter((s) => s.sentAt > returnedAt && s.agentId === 'ledger-bot').length >= 10,
        90_000,
      );
    } finally {
      // Whatever happened, the drivers stop: a failed wait must not leave them looping.
      driving = false;
      await Promise.all(drivers);
    }

    const after = sent.filter((s) => s.sentAt > returnedAt);
    const inScope = after.filter((s) => s.agentId === 'payroll-bot');
    expect(inScope.filter((s) => s.verdict === 'allow')).toEqual([]);
    expect(new Set(inScope.map((s) => s.verdict))).toEqual(new Set(['deny']));
    // Before the engage the same agent was allowed, and out of scope the gate kept allowing.
    expect(sent.some((s) => s.sentAt < returnedAt && s.agentId === 'payroll-bot' && s.verdict === 'allow')).toBe(true);
    expect(after.filter((s) => s.agentId === 'ledger-bot').every((s) => s.verdict === 'allow')).toBe(true);
  });

  it('after policy, budget and approval restart with the switch active, requests in scope are still denied', async () => {
    for (const service of ['policy', 'budget', 'approval'] as const) await stack.restart(service);
    const inScope = await Promise.all(Array.from({ length: 10 }, (_, i) => gate('payroll-bot', `run-restarted-${i}`)));
    expect(inScope.map((r) => r.verdict)).toEqual(Array(10).fill('deny'));
    expect((await gate('ledger-bot', 'run-restarted-other')).verdict).toBe('allow');
  });

  it('a forged release produced straight to killswitch.events is dead-lettered by each consumer and the switch stays engaged', async () => {
    // A principal with produce rights but without the key-encryption key (docs/adr/0118): one
    // release unsigned, one signed with a killswitch key derived from a KEK of its own.
    const port: KafkaPort = await connectedPort('e2e-ks-forger');
    const recorder = await TopicRecorder.start(port, prefix, [Topic.deadLetter]);
    try {
      const release = (id: string) =>
        encode({
          id,
          type: KillSwitchReleasedSchema.typeName,
          source: 'warden://killswitch/http',
          time: Date.now(),
          key: 'ks-e2e',
          tenantId: 'acme',
          agentId: '',
          runId: '',
          data: create(KillSwitchReleasedSchema, {
            switchId: 'ks-e2e',
            scope: create(ScopeSchema, { tenantId: 'acme', agentId: 'payroll-bot' }),
            reason: 'forged',
            releasedBy: 'sam',
            releasedAtMs: Date.now(),
          }),
        });
      const unsigned = release('forged-release-1');
      const other = release('forged-release-2');
      const ownKey = deriveAuthorityKey(randomBytes(32), 'killswitch');
      const topic = topicName(prefix, Topic.killswitchEvents);
      await port.publish([
        { topic, ...unsigned },
        { topic, ...other, headers: { ...other.headers, ...signAuthority(Topic.killswitchEvents, other, ownKey) } },
      ]);
      const consumers = ['policy-killswitches', 'budget-killswitches', 'approval-killswitches', 'killswitch-switches'];
      const letters = await eventually(
        () => {
          const d = recorder.on(Topic.deadLetter).filter((r) => r.headers.ce_id?.startsWith('forged-release-'));
          const all = consumers.every((c) =>
            ['forged:unsigned', 'forged:wrong_signer'].every((code) =>
              d.some((r) => r.headers[DLQ.consumer] === c && r.headers[DLQ.code] === code),
            ),
          );
          return all && d;
        },
        30_000,
        'the forged releases dead-lettered by policy, budget, approval and killswitch',
      );
      for (const letter of letters) expect(letter.headers[DLQ.reason]).toContain('killswitch.events records');
      // Nothing changed: the switch is engaged, and requests in its scope are denied.
      const read = await call(stack.urls.killswitch, 'GET', '/killswitches/ks-e2e', sre);
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ releasedBy: null, releasedAt: null });
      const inScope = await Promise.all(Array.from({ length: 5 }, (_, i) => gate('payroll-bot', `run-forged-${i}`)));
      expect(inScope.map((r) => r.verdict)).toEqual(Array(5).fill('deny'));
    } finally {
      await recorder.stop();
      await port.close();
    }
  });

  it('after release, the scope is allowed again', async () => {
    const released = await call(stack.urls.killswitch, 'POST', '/killswitches/ks-e2e/release', sre, {
      reason: 'fixed',
    });
    expect(released.status).toBe(200);
    await eventually(
      async () => (await gate('payroll-bot', 'run-after-release')).verdict === 'allow',
      20_000,
      'release',
    );
  });
});
