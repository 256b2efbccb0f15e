import { generateKeyPairSync, randomUUID } from 'node:crypto';
import {
  create,
  encode,
  KeyUse,
  Message,
  RiskClass,
  SigningKeyRotatedSchema,
  ToolActionSchema,
  ToolContractPublishedSchema,
  ToolContractSchema,
  Topic,
  topicName,
} from '@warden/contracts';
import { KafkajsPort, Logger, sealPrivateKey } from '@warden/platform';

/** The demo's tool contracts: every tool the demo agent is granted, pinned at version 1 by this digest. */
export const DEMO_CONTRACTS: Record<string, { digest: string; actions: [string, RiskClass, boolean][] }> = {
  tickets: {
    digest: 'sha256:demo-tickets-1',
    actions: [
      ['read', RiskClass.LOW, false],
      ['draft', RiskClass.MEDIUM, false],
      ['close', RiskClass.MEDIUM, false],
    ],
  },
  payments: {
    digest: 'sha256:demo-payments-1',
    actions: [
      ['read', RiskClass.LOW, false],
      ['pay', RiskClass.CRITICAL, false],
    ],
  },
};

/**
 * Publishes a decision-token signing key (sealed with the stack's KEK) and the demo tool contracts on
 * registry.events, as the registry would after a key rotation and a contract publication.
 */
export async function publishDemoRegistry(brokers: string[], prefix: string, kek: Buffer): Promise<void> {
  const port = new KafkajsPort({ brokers, clientId: 'demo-bootstrap', logger: new Logger('demo', 'error') });
  await port.connect();
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const kid = `demo-decision-${Date.now().toString(36)}`;
  const events: [string, Message][] = [
    [
      'keys',
      create(SigningKeyRotatedSchema, {
        kid,
        use: KeyUse.DECISION_TOKEN,
        alg: 'EdDSA',
        publicJwk: JSON.stringify(publicKey.export({ format: 'jwk' })),
        sealedPrivateKey: sealPrivateKey(privateKey.export({ format: 'jwk' }), kid, kek),
        activatedAtMs: Date.now(),
      }),
    ],
    ...Object.entries(DEMO_CONTRACTS).map(([tool, c]): [string, Message] => [
      `tool:demo/${tool}`,
      create(ToolContractPublishedSchema, {
        tenantId: 'demo',
        contract: create(ToolContractSchema, {
          tool,
          version: '1',
          definitionDigest: c.digest,
          actions: c.actions.map(([name, riskClass, requiresApproval]) =>
            create(ToolActionSchema, { name, riskClass, requiresApproval }),
          ),
        }),
      }),
    ]),
  ];
  try {
    await port.publish(
      events.map(([key, data]) => ({
        topic: topicName(prefix, Topic.registryEvents),
        ...encode({
          id: randomUUID(),
          type: data.$typeName,
          source: 'warden://demo',
          time: Date.now(),
          key,
          tenantId: 'demo',
          agentId: '',
          runId: '',
          data,
        }),
      })),
    );
  } finally {
    await port.close();
  }
}
