import { MigrationInterface } from 'typeorm';
import { AdminAuthenticator } from '../auth/admin-auth';
import { ConfigError, PlatformConfig } from '../config';
import { AuthorityVerifier, deriveAuthorityKey, needsAuthorityKeys, ownsAuthorityTopics } from '../crypto/authority';
import { AuthoritySigningPort } from '../crypto/authority-port';
import { parseKek } from '../crypto/sealed-key';
import { KafkajsPort } from '../kafka/kafkajs-adapter';
import { KafkaPort } from '../kafka/port';
import { Logger } from '../observability/logger';
import { InstrumentedPort } from '../observability/instrumented-port';
import { Metrics } from '../observability/metrics';
import { createDataSource } from '../postgres/data-source';
import { ServiceRuntime } from './service-runtime';

/** Builds a service's runtime from its validated configuration. */
export function createServiceRuntime(
  service: string,
  config: PlatformConfig,
  database?: { readonly schema: string; readonly migrations: (new () => MigrationInterface)[] },
): ServiceRuntime {
  const logger = new Logger(service, config.logLevel, { instance: config.instanceId });
  const metrics = new Metrics(service);
  const kafka = new KafkajsPort({
    brokers: config.kafkaBrokers,
    clientId: `warden-${service}-${config.instanceId}`,
    logger,
    security: config.kafkaSecurity,
  });
  metrics.observeKafka(() => kafka.stats.snapshot());
  const instrumented = new InstrumentedPort(kafka, metrics, config.topicPrefix);
  // Signed authority events (docs/adr/0118): the owner signs, the consumers that act on them verify.
  let port: KafkaPort = instrumented;
  let authority: AuthorityVerifier | undefined;
  if (needsAuthorityKeys(service)) {
    const { keyEncryptionKey, previousKeyEncryptionKeys, unsignedBefore, publicKeys } = config.authority;
    if (keyEncryptionKey) {
      const kek = parseKek(keyEncryptionKey);
      if (ownsAuthorityTopics(service))
        port = new AuthoritySigningPort(instrumented, config.topicPrefix, deriveAuthorityKey(kek, service));
      authority = new AuthorityVerifier([kek, ...previousKeyEncryptionKeys.map(parseKek)], unsignedBefore, publicKeys);
    } else if (!ownsAuthorityTopics(service) && publicKeys.length > 0) {
      // A verifier that signs nothing can do with the owners' public keys (the HTTP gate, ADR 0118).
      authority = new AuthorityVerifier([], unsignedBefore, publicKeys);
    } else {
      throw new ConfigError([
        ownsAuthorityTopics(service)
          ? `WARDEN_KEY_ENCRYPTION_KEY is required: ${service} signs authority events (docs/adr/0118)`
          : `WARDEN_KEY_ENCRYPTION_KEY or WARDEN_AUTHORITY_PUBLIC_KEYS is required: ${service} verifies authority events (docs/adr/0118)`,
      ]);
    }
  }
  const db = database ? createDataSource({ url: config.databaseUrl, ...database }) : undefined;
  return new ServiceRuntime(service, port, logger, metrics, {
    prefix: config.topicPrefix,
    partitions: config.partitions,
    ingressRetentionMs: config.ingressRetentionMs,
    db,
    schema: database?.schema,
    authenticator: new AdminAuthenticator(config.auth),
    authority,
    // The HTTP gate writes agent input only (ADR 0119): it refuses forged records without a dead
    // letter of its own (the services that read the same records write theirs).
    deadLetters: !NO_DEAD_LETTERS.has(service),
  });
}

const NO_DEAD_LETTERS: ReadonlySet<string> = new Set(['gateway']);

/** Reads configuration or stops the process with a message naming each variable at fault. */
export function configOrExit<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(78);
  }
}
