import { parseArgs } from 'node:util';
import {
  aclsFor,
  brokerAcls,
  ConfigError,
  env,
  grantAccess,
  kafkaSecurity,
  KafkajsPort,
  Logger,
  parsePrincipal,
  Principal,
  readConfig,
  SERVICE_PRINCIPALS,
} from '@warden/platform';

const USAGE = `usage: kafka-acls <principal> [--prefix <topic prefix>] [--strimzi]
       kafka-acls <principal> --grant <SASL user> [--prefix <topic prefix>]

The Kafka ACLs of one principal of the access table (docs/security.md), under the installation's
topic prefix (default: WARDEN_TOPIC_PREFIX, else "warden."). Principals:
  service:<${SERVICE_PRINCIPALS.join('|')}>
  agent:<tenant>/<agent>             one agent: the agent input topics and its own reply topic
  tenant-agents:<tenant>             every agent of a tenant under one principal
  subscriber:<name>[:<topic>,...]    a downstream reader (default: decisions, kill switches, audit)
  operator:<name>                    operators' tools: read every topic of record, write nothing
  gateway                            the HTTP gate: agent input on agents' behalf, every reply topic

Prints one ACL per line (ALLOW <operations> <resource> <pattern> <name>); --strimzi prints the
KafkaUser's spec.authorization instead. --grant creates the ACLs for that SASL user on the broker,
connecting as an administrator with KAFKA_BROKERS, KAFKA_SSL*, KAFKA_SASL_* (as the services do).
`;

function fail(message: string): never {
  process.stderr.write(`kafka-acls: ${message}\n${USAGE}`);
  process.exit(64);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        prefix: { type: 'string' },
        strimzi: { type: 'boolean', default: false },
        grant: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    return fail((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (positionals.length !== 1) fail('name exactly one principal');
  let principal: Principal;
  try {
    principal = parsePrincipal(positionals[0]);
  } catch (error) {
    return fail((error as Error).message);
  }
  const prefix = values.prefix ?? process.env.WARDEN_TOPIC_PREFIX ?? 'warden.';
  if (values.strimzi) {
    // Strimzi's KafkaUser names resources in full: the prefix is part of every name.
    const acls = brokerAcls(prefix, principal);
    process.stdout.write(`${JSON.stringify({ authorization: { type: 'simple', acls } }, null, 2)}\n`);
    return;
  }
  if (values.grant === undefined) {
    for (const acl of aclsFor(principal))
      process.stdout.write(
        `ALLOW ${acl.operations.join(',')} ${acl.resource.type} ${acl.resource.patternType} ${prefix}${acl.resource.name}\n`,
      );
    return;
  }
  if (!values.grant) fail('--grant needs the SASL user name');
  let config;
  try {
    config = readConfig({ brokers: env.brokers('KAFKA_BROKERS', '127.0.0.1:19092'), security: kafkaSecurity() });
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
  const port = new KafkajsPort({
    brokers: config.brokers,
    clientId: 'warden-kafka-acls',
    logger: new Logger('kafka-acls', 'warn'),
    security: config.security,
  });
  await port.connect();
  try {
    await grantAccess(port, prefix, values.grant, principal);
  } finally {
    await port.close();
  }
  process.stdout.write(`granted ${aclsFor(principal).length} ACLs to User:${values.grant}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`kafka-acls: ${error.message}\n`);
  process.exit(1);
});
