import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TopicName } from '@warden/contracts';
import { wardenTopicSpecs } from '@warden/platform';
import { CHART_SERVICES, ChartAcl, ChartService, serviceAcls } from './kafka-access';

/**
 * The chart's Kafka data, generated from the code so the KafkaTopic and KafkaUser resources
 * cannot drift from what the services provision and use: every topic of
 * libs/contracts/src/topics.ts with the configuration of libs/platform/src/kafka/provision.ts
 * (the partition count is the chart's `partitions` value, the same WARDEN_PARTITIONS every
 * service gets), and each service's ACLs.
 *
 * `npm run chart:generate` writes deploy/helm/warden/files/kafka.json; deploy/helm/chart.spec.ts
 * fails while that file is not what the code says.
 */
export interface ChartKafka {
  readonly topics: readonly { readonly name: TopicName; readonly config: Record<string, string> }[];
  readonly users: Record<ChartService, readonly ChartAcl[]>;
}

export function chartKafka(): ChartKafka {
  const topics = wardenTopicSpecs('', 1).map((spec) => ({ name: spec.topic as TopicName, config: spec.config }));
  const users = Object.fromEntries(CHART_SERVICES.map((s) => [s, serviceAcls(s)])) as Record<ChartService, ChartAcl[]>;
  return { topics, users };
}

/** Where the chart reads it (`.Files.Get`), from the repository root. */
export const CHART_KAFKA_FILE = join('deploy', 'helm', 'warden', 'files', 'kafka.json');

export function chartKafkaText(): string {
  return `${JSON.stringify(chartKafka(), null, 2)}\n`;
}

if (require.main === module) {
  writeFileSync(CHART_KAFKA_FILE, chartKafkaText());
  process.stdout.write(`wrote ${CHART_KAFKA_FILE}\n`);
}
