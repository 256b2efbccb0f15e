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

/** A tool contract at version 1: its digest and its actions (name, risk class, requires approval). */
export interface BootstrapContract {
  readonly digest: string;
  readonly actions: readonly (readonly [string, RiskClass, boolean])[];
}

/**
 * Publishes a decision-token signing key (sealed with the stack's KEK) and a tenant's tool contracts
 * (version 1) on registry.events, as the registry would after a key rotation and a contract publication.
 */
export async function publishRegistryBootstrap(
  brokers: readonly string[],
  prefix: string,
  kek: Buffer,
  tenantId: string,
  contracts: Record<string, BootstrapContract>,
): Promise<void> {
  const port = new KafkajsPort({
    brokers: [...brokers],
    clientId: 'registry-bootstrap',
    logger: new Logger('bootstrap', 'error'),
  });
  await port.connect();
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const kid = `decision-${Date.now().toString(36)}`;
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
    ...Object.entries(contracts).map(([tool, c]): [string, Message] => [
      `tool:${tenantId}/${tool}`,
      create(ToolContractPublishedSchema, {
        tenantId,
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
          source: 'warden://bootstrap',
          time: Date.now(),
          key,
          tenantId,
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
