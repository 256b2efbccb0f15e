import { MigrationInterface } from 'typeorm';
import { AdminAuthenticator } from '../auth/admin-auth';
import { ConfigError, PlatformConfig } from '../config';
import { AuthorityVerifier, deriveAuthorityKey, needsAuthorityKeys } from '../crypto/authority';
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
    const { keyEncryptionKey, previousKeyEncryptionKeys, unsignedBefore } = config.authority;
    if (!keyEncryptionKey)
      throw new ConfigError([
        `WARDEN_KEY_ENCRYPTION_KEY is required: ${service} signs or verifies authority events (docs/adr/0118)`,
      ]);
    const kek = parseKek(keyEncryptionKey);
    port = new AuthoritySigningPort(instrumented, config.topicPrefix, deriveAuthorityKey(kek, service));
    authority = new AuthorityVerifier([kek, ...previousKeyEncryptionKeys.map(parseKek)], unsignedBefore);
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
  });
}

/** Reads configuration or stops the process with a message naming each variable at fault. */
export function configOrExit<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(78);
  }
}
