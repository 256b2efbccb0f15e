import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ALL_TOPICS } from '@warden/contracts';
import { wardenTopicSpecs } from '@warden/platform';
import { CHART, deployTools, renderChart, REPO_ROOT, runCheck } from '../tools/deploy-tools';
import { chartKafkaText, CHART_KAFKA_FILE } from './generate';
import { CHART_SERVICES, serviceAcls } from './kafka-access';

/**
 * The Helm chart renders, and what it renders is valid for Kubernetes and Strimzi, offline:
 * Helm 4 and warden-deploy-check built from their Go modules, Strimzi's CRDs generated from its
 * Maven Central artifacts (deploy/tools/setup.sh, run by the test command). Built-in kinds are
 * decoded strictly (unknown or duplicate fields fail, as with fieldValidation=Strict), custom
 * resources go through the API server's CRD validation (schema, pruning, CEL rules).
 */
/** The parts of rendered manifests the assertions read. */
interface Container {
  readonly image: string;
  readonly livenessProbe: { readonly httpGet: { readonly path: string } };
  readonly readinessProbe: { readonly httpGet: { readonly path: string } };
  readonly env: readonly { readonly name: string; readonly value?: string }[];
}
interface Doc {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly annotations?: Record<string, string> };
  readonly spec: {
    readonly template: { readonly spec: { readonly containers: Container[]; readonly securityContext: object } };
    readonly replicas: number;
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly metrics: readonly { readonly type: string }[];
    readonly topicName: string;
    readonly kafka: { readonly listeners: unknown; readonly authorization: unknown; readonly config: object };
    readonly roles: readonly string[];
    readonly authentication: unknown;
    readonly authorization: { readonly acls: unknown };
  };
}
interface Report {
  readonly documents: { kind: string; name: string; problems: string[] }[];
  readonly references: string[];
}

const PRODUCTION = 'values-production.yaml';
const EXTERNAL = ['--external-secrets', 'warden-kek,warden-database'];
const TEST_SECRETS = { 'keyEncryptionKey.value': 'x'.repeat(43) + '=', 'database.url': 'postgres://warden@db/warden' };

const docs = (text: string): Doc[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Doc)
    .filter(Boolean);

const problemsOf = (r: Report) => [...r.documents.flatMap((d) => d.problems), ...r.references];

function validate(manifests: string, args: readonly string[] = []): Report {
  const { crds } = deployTools();
  const { report, ok } = runCheck<Report>(['manifests', '--crds', crds, ...args], manifests);
  expect(ok).toBe(problemsOf(report).length === 0);
  return report;
}

describe('the Helm chart (deploy/helm/warden)', () => {
  const production = renderChart([PRODUCTION]);
  const objects = docs(production);
  const named = (kind: string) => objects.filter((o) => o.kind === kind);

  it('has its Kafka data generated from the code, up to date (npm run chart:generate)', () => {
    expect(readFileSync(join(CHART, 'files', 'kafka.json'), 'utf8')).toBe(chartKafkaText());
    // What `npm run chart:generate` runs after compiling, in a scratch tree.
    const scratch = mkdtempSync(join(tmpdir(), 'chart-generate-'));
    mkdirSync(join(scratch, 'deploy', 'helm', 'warden', 'files'), { recursive: true });
    execFileSync(process.execPath, [join(REPO_ROOT, 'dist', 'deploy', 'helm', 'generate.js')], { cwd: scratch });
    expect(readFileSync(join(scratch, CHART_KAFKA_FILE), 'utf8')).toBe(chartKafkaText());
  });

  it('lints with Helm, with its defaults and with the production values', () => {
    const { helm } = deployTools();
    const sets = Object.entries(TEST_SECRETS).flatMap(([k, v]) => ['--set-string', `${k}=${v}`]);
    expect(execFileSync(helm, ['lint', '--strict', CHART, ...sets], { encoding: 'utf8' })).toContain(
      '0 chart(s) failed',
    );
    expect(
      execFileSync(helm, ['lint', '--strict', CHART, '-f', join(CHART, PRODUCTION)], { encoding: 'utf8' }),
    ).toContain('0 chart(s) failed');
  });

  it('renders the production values into manifests valid against the Kubernetes and Strimzi schemas', () => {
    const report = validate(production, EXTERNAL);
    expect(problemsOf(report)).toEqual([]);
    expect(new Set(report.documents.map((d) => d.kind))).toEqual(
      new Set([
        'Deployment',
        'Service',
        'PodDisruptionBudget',
        'HorizontalPodAutoscaler',
        'Job',
        'ServiceMonitor',
        'PrometheusRule',
        'ConfigMap',
        'Kafka',
        'KafkaNodePool',
        'KafkaTopic',
        'KafkaUser',
      ]),
    );
  });

  it('renders its defaults (chart-made secrets, no autoscaling) and a cluster without Strimzi validly too', () => {
    expect(problemsOf(validate(renderChart([], TEST_SECRETS)))).toEqual([]);
    const external = renderChart([], {
      ...TEST_SECRETS,
      'kafka.strimzi.enabled': false,
      'kafka.bootstrapServers': 'kafka-0.kafka:9093',
      'kafka.security.caSecret': 'kafka-ca',
      'kafka.security.passwordsSecret': 'warden-kafka-users',
    });
    expect(docs(external).filter((o) => o.kind.startsWith('Kafka'))).toEqual([]);
    expect(problemsOf(validate(external, ['--external-secrets', 'kafka-ca,warden-kafka-users']))).toEqual([]);
  });

  it('finds what the API server or the operators would refuse, and what would not work', () => {
    const broken = [
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicaz: 2, selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: c}}, spec: {containers: [{name: x, image: ""}]}}}',
      'apiVersion: kafka.strimzi.io/v1\nkind: KafkaTopic\nmetadata: {name: t}\nspec: {partitions: 0, partitionz: 3}',
      'apiVersion: kafka.strimzi.io/v1\nkind: KafkaUser\nmetadata: {name: u}\nspec: {authentication: {type: scram-sha-512, validityDays: 3}, authorization: {type: simple, acls: [{resource: {type: topic, name: t}, operations: [Write, Fly]}]}}',
      'apiVersion: v1\nkind: Service\nmetadata: {name: Bad_Name}\nspec: {selector: {app: none}, ports: [{port: 80}]}',
    ].join('\n---\n');
    const { crds } = deployTools();
    const { report, ok } = runCheck<Report>(['manifests', '--crds', crds], broken);
    const text = problemsOf(report).join('\n');
    expect(ok).toBe(false);
    expect(text).toContain('unknown field "spec.replicaz"');
    expect(text).toContain('spec.partitions');
    expect(text).toContain('spec.partitionz: unknown field');
    expect(text).toContain('Fly');
    expect(text).toContain("'validityDays' and 'renewalDays' can be configured only with 'type: tls'");
    expect(text).toContain('metadata.name');
    expect(text).toContain('the selector selects no workload');
  });

  it('gives every service a Deployment probed on /health/live and /health/ready, a Service, a PDB and an HPA', () => {
    for (const service of CHART_SERVICES) {
      const name = `warden-${service}`;
      const deployment = named('Deployment').find((d) => d.metadata.name === name)!;
      const container = deployment.spec.template.spec.containers[0];
      expect(container.image).toBe(`registry.example.com/platform/warden-${service}:0.1.0`);
      expect(container.livenessProbe.httpGet.path).toBe('/health/live');
      expect(container.readinessProbe.httpGet.path).toBe('/health/ready');
      expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
      const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
      expect(env).toMatchObject({ WARDEN_PARTITIONS: '12', WARDEN_TOPIC_PREFIX: 'warden.', HTTP_HOST: '0.0.0.0' });
      expect('WARDEN_KEY_ENCRYPTION_KEY' in env).toBe(service !== 'trace');
      expect(named('Service').some((s) => s.metadata.name === name)).toBe(true);
      expect(named('PodDisruptionBudget').some((s) => s.metadata.name === name)).toBe(true);
      const hpa = named('HorizontalPodAutoscaler').find((h) => h.metadata.name === name)!;
      expect(hpa.spec.maxReplicas).toBe(12);
      expect(hpa.spec.metrics.map((m) => m.type)).toEqual(['Resource', 'External']);
      expect(named('Job').find((j) => j.metadata.name === `${name}-migrate`)!.metadata.annotations).toMatchObject({
        'helm.sh/hook': 'pre-install,pre-upgrade',
      });
    }
  });

  it('never scales a service past the partition count (instances beyond it would idle)', () => {
    const rendered = docs(renderChart([PRODUCTION], { partitions: 4 }));
    const hpas = rendered.filter((o) => o.kind === 'HorizontalPodAutoscaler');
    expect(hpas.map((h) => [h.spec.minReplicas, h.spec.maxReplicas])).toEqual(CHART_SERVICES.map(() => [3, 4]));
    const fixed = docs(renderChart([], { ...TEST_SECRETS, partitions: 1 })).filter((o) => o.kind === 'Deployment');
    expect(fixed.map((d) => d.spec.replicas)).toEqual(CHART_SERVICES.map(() => 1));
  });

  it('has a KafkaTopic for every Warden topic, with the partitions, retention and configuration the services provision', () => {
    const topics = named('KafkaTopic');
    const specs = wardenTopicSpecs('warden.', 12);
    expect(topics.map((t) => t.spec.topicName).sort()).toEqual(ALL_TOPICS.map((t) => `warden.${t}`).sort());
    for (const spec of specs) {
      const topic = topics.find((t) => t.spec.topicName === spec.topic)!;
      expect(topic.spec).toEqual({
        topicName: spec.topic,
        partitions: spec.partitions,
        replicas: 3,
        config: { ...spec.config, 'min.insync.replicas': '2' },
      });
    }
  });

  it('has a SCRAM-SHA-512 KafkaUser per service whose ACLs are the generated ones, under the topic prefix', () => {
    const users = named('KafkaUser');
    expect(users.map((u) => u.metadata.name).sort()).toEqual(CHART_SERVICES.map((s) => `warden-${s}`).sort());
    for (const service of CHART_SERVICES) {
      const user = users.find((u) => u.metadata.name === `warden-${service}`)!;
      expect(user.spec.authentication).toEqual({ type: 'scram-sha-512' });
      expect(user.spec.authorization.acls).toEqual(
        serviceAcls(service).map((a) => ({
          resource: { ...a.resource, name: `warden.${a.resource.name}` },
          operations: a.operations,
          host: '*',
        })),
      );
    }
  });

  it('runs a KRaft cluster of three controllers and three brokers, TLS with SCRAM and ACLs', () => {
    const [kafka] = named('Kafka');
    expect(kafka.spec.kafka.listeners).toEqual([
      { name: 'tls', port: 9093, type: 'internal', tls: true, authentication: { type: 'scram-sha-512' } },
    ]);
    expect(kafka.spec.kafka.authorization).toEqual({ type: 'simple' });
    expect(kafka.spec.kafka.config).toMatchObject({ 'min.insync.replicas': 2, 'default.replication.factor': 3 });
    expect(named('KafkaNodePool').map((p) => [p.spec.roles, p.spec.replicas])).toEqual([
      [['controller'], 3],
      [['broker'], 3],
    ]);
  });
});
