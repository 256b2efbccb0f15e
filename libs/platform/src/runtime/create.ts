import { MigrationInterface } from 'typeorm';
import { AdminAuthenticator } from '../auth/admin-auth';
import { PlatformConfig } from '../config';
import { KafkajsPort } from '../kafka/kafkajs-adapter';
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
  const port = new InstrumentedPort(kafka, metrics, config.topicPrefix);
  const db = database ? createDataSource({ url: config.databaseUrl, ...database }) : undefined;
  return new ServiceRuntime(service, port, logger, metrics, {
    prefix: config.topicPrefix,
    partitions: config.partitions,
    ingressRetentionMs: config.ingressRetentionMs,
    db,
    schema: database?.schema,
    authenticator: new AdminAuthenticator(config.auth),
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
