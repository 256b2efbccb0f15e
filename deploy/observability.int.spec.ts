import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ActionKind, create, GateRequestedSchema, Topic, topicName } from '@warden/contracts';
import { KafkaPort } from '@warden/platform';
import {
  connectedPort,
  eventually,
  freshDatabase,
  kafkaBrokers,
  publishEvent,
  uniquePrefix,
} from '@warden/platform/testing';
import { DEFAULT_PORTS, SERVICES, ServiceName, Stack, startStack } from './local/stack';
import { CHART, REPO_ROOT, runCheck } from './tools/deploy-tools';

/**
 * The alert rules and the Grafana dashboard shipped in the chart reference only what the services
 * export: the six services run as processes on the real broker and Postgres, serve some traffic
 * (a gate decision, a dead letter), and the metric and label names of their real /metrics are
 * what every PromQL expression is checked against, parsed by Prometheus' own parser and rule
 * loader (warden-deploy-check, built from github.com/prometheus/prometheus). A renamed metric or
 * label fails this test.
 */
jest.setTimeout(480_000);

interface Selector {
  readonly metric: string;
  readonly labels: readonly string[];
}
interface Expression {
  readonly expr: string;
  readonly error?: string;
  readonly selectors: readonly Selector[];
  readonly grouping: readonly string[];
}
interface Rule extends Expression {
  readonly alert?: string;
  readonly annotations: Record<string, string>;
}

/** Labels Prometheus adds to every scraped series from its target (the chart's ServiceMonitor). */
const TARGET_LABELS = ['namespace', 'pod', 'instance', 'job', 'container', 'endpoint'];
/** Series Prometheus makes itself for every target. */
const PROMETHEUS_SERIES: Record<string, readonly string[]> = { up: [] };

/** Metric sample names and their label names, from Prometheus' text exposition format. */
export function exportedSeries(texts: readonly string[]): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>();
  for (const text of texts) {
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s/.exec(line);
      if (!m) continue;
      const labels = series.get(m[1]) ?? new Set<string>();
      for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) labels.add(l[1]);
      series.set(m[1], labels);
    }
  }
  return series;
}

/** What an expression references that no service exports (empty when it is sound). */
export function unknownReferences(e: Expression, exported: Map<string, Set<string>>): string[] {
  if (e.error) return [`${e.expr}: ${e.error}`];
  const problems: string[] = [];
  const known = new Set(TARGET_LABELS);
  for (const s of e.selectors) {
    const labels = exported.get(s.metric) ?? (PROMETHEUS_SERIES[s.metric] && new Set(PROMETHEUS_SERIES[s.metric]));
    if (!labels) {
      problems.push(`${s.metric} is not exported by any service`);
      continue;
    }
    for (const l of labels) known.add(l);
    for (const l of s.labels) {
      if (!labels.has(l) && !TARGET_LABELS.includes(l)) problems.push(`${s.metric} has no label ${l}`);
    }
  }
  if (e.selectors.length === 0) problems.push(`${e.expr}: references no metric`);
  for (const l of e.grouping) if (!known.has(l)) problems.push(`grouping by ${l}: none of its metrics has it`);
  return problems.map((p) => `${p} (in ${e.expr})`);
}

/** Grafana's variables as Prometheus would see them once Grafana has replaced them. */
const withoutGrafanaVariables = (expr: string) =>
  expr.replace(/\$__(rate_interval|interval|range)/g, '5m').replace(/\$\{?[a-zA-Z_]+\}?/g, '.*');

interface DashboardPanel {
  readonly title: string;
  readonly targets?: { readonly expr: string }[];
}

/** Every query of the dashboard: panel targets, and the metric selectors of its variables' label_values(). */
function dashboardQueries(): { expressions: string[]; variables: { selector: string; label: string }[] } {
  const dashboard = JSON.parse(readFileSync(join(CHART, 'files', 'grafana-dashboard.json'), 'utf8')) as {
    panels: DashboardPanel[];
    templating: { list: { type: string; query: string | { query: string } }[] };
  };
  const expressions = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => withoutGrafanaVariables(t.expr)));
  const variables = dashboard.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => {
      const query = typeof v.query === 'string' ? v.query : v.query.query;
      const m = /^label_values\((.+),\s*([a-zA-Z_]+)\)$/.exec(query);
      if (!m) throw new Error(`variable query ${query} is not label_values(selector, label)`);
      return { selector: withoutGrafanaVariables(m[1]), label: m[2] };
    });
  return { expressions, variables };
}

function runbookHeadings(service: string): Set<string> {
  const text = readFileSync(join(REPO_ROOT, 'docs', 'runbooks', `${service}.md`), 'utf8');
  return new Set([...text.matchAll(/^#+ (Warden[A-Za-z]+)\s*$/gm)].map((m) => m[1]));
}

describe('alert rules and dashboard against the metrics the services export', () => {
  const prefix = uniquePrefix('observability');
  const offset = 200 + Math.floor(Math.random() * 9) * 10;
  const ports = Object.fromEntries(SERVICES.map((s) => [s, DEFAULT_PORTS[s] + offset])) as Record<ServiceName, number>;
  let db: { url: string; drop(): Promise<void> };
  let stack: Stack;
  let port: KafkaPort;
  let exported: Map<string, Set<string>>;
  let scraped: Record<ServiceName, string>;

  const scrape = async () =>
    Object.fromEntries(
      await Promise.all(SERVICES.map(async (s) => [s, await (await fetch(`${stack.urls[s]}/metrics`)).text()])),
    ) as Record<ServiceName, string>;

  beforeAll(async () => {
    db = await freshDatabase('observability');
    stack = await startStack({
      brokers: kafkaBrokers().join(','),
      databaseUrl: db.url,
      topicPrefix: prefix,
      ports,
      logDir: join(REPO_ROOT, '.warden', 'e2e-logs', prefix),
      // Six services start at once; on a busy machine that takes a while.
      readyTimeoutMs: 300_000,
    });
    port = await connectedPort('observability');
    // A decision (an unregistered agent is denied: it has no reply topic, so no SDK) and a record
    // no consumer can decode.
    await publishEvent(
      port,
      prefix,
      Topic.gateRequests,
      'run-metrics',
      create(GateRequestedSchema, {
        requestId: 'metrics-1',
        tenantId: 'acme',
        agentId: 'ghost-bot',
        runId: 'run-metrics',
        actionKind: ActionKind.TOOL_CALL,
        tool: 'payroll',
        action: 'read',
        estimatedTokens: 5,
        requestedAtMs: Date.now(),
        deadlineMs: Date.now() + 20_000,
      }),
    );
    await port.publish([
      {
        topic: topicName(prefix, Topic.gateRequests),
        key: 'run-metrics',
        value: Buffer.from('not an event'),
        headers: {},
      },
    ]);
    scraped = await eventually(
      async () => {
        const texts = await scrape();
        const decided = /warden_gate_decision_seconds_count\{[^}]*verdict="deny",stage="published"\} [1-9]/.test(
          texts.policy,
        );
        // Lag is sampled periodically once a consumer has its assignment: wait for every service's first sample.
        const lagged = SERVICES.every((s) => /^warden_consumer_lag_records\{/m.test(texts[s]));
        return decided && lagged && /^warden_dead_letters_total\{/m.test(texts.budget) && texts;
      },
      60_000,
      'the decision, the dead letter and every service’s consumer lag in the metrics',
    );
    exported = exportedSeries(Object.values(scraped));
  });

  afterAll(async () => {
    await port?.close();
    if (stack) await stack.stop();
    await db?.drop();
  });

  it('exports the decision-latency histogram by verdict and stage, from the events’ timestamps', () => {
    for (const stage of ['budget', 'policy', 'published']) {
      expect(scraped.policy).toMatch(
        new RegExp(`warden_gate_decision_seconds_count\\{service="policy",verdict="deny",stage="${stage}"\\} 1\\b`),
      );
    }
    expect(exported.get('warden_gate_decision_seconds_bucket')).toEqual(new Set(['le', 'service', 'verdict', 'stage']));
  });

  it('exports consumer lag per group and partition, dead letters by reason code, holds and open tasks', () => {
    for (const s of SERVICES)
      expect(scraped[s]).toMatch(/^warden_consumer_lag_records\{group="[^"]+",topic="[^"]+",partition="\d+"/m);
    expect(scraped.budget).toMatch(
      /^warden_dead_letters_total\{consumer="[^"]+",topic="gate.requests",code="[^"]+",service="budget"\} 1$/m,
    );
    for (const stage of ['run', 'ledger']) {
      for (const queue of ['ttl', 'approval'])
        expect(scraped.budget).toContain(
          `warden_budget_open_holds{stage="${stage}",queue="${queue}",service="budget"}`,
        );
    }
    expect(scraped.approval).toMatch(/^warden_approval_open_tasks\{service="approval"\} 0$/m);
    expect(scraped.approval).toMatch(/^warden_approval_oldest_open_task_seconds\{service="approval"\} 0$/m);
  });

  it('has alert rules that Prometheus loads and that reference only exported metrics and labels', () => {
    const { report, ok } = runCheck<{ errors: string[]; rules: Rule[] }>([
      'rules',
      join(CHART, 'files', 'prometheus-rules.yaml'),
    ]);
    expect(report.errors).toEqual([]);
    expect(ok).toBe(true);
    expect(report.rules.length).toBeGreaterThanOrEqual(10);
    expect(report.rules.flatMap((r) => unknownReferences(r, exported))).toEqual([]);
  });

  it('explains every alert in the runbook its annotation points to', () => {
    const { report } = runCheck<{ rules: Rule[] }>(['rules', join(CHART, 'files', 'prometheus-rules.yaml')]);
    const missing: string[] = [];
    for (const rule of report.rules) {
      const link = rule.annotations.runbook ?? '';
      const m = /^docs\/runbooks\/(.+)\.md#(.+)$/.exec(link);
      if (!m || m[2] !== rule.alert!.toLowerCase()) {
        missing.push(`${rule.alert}: runbook annotation ${link}`);
        continue;
      }
      const services = m[1].startsWith('{{') ? SERVICES : [m[1]];
      for (const s of services)
        if (!runbookHeadings(s).has(rule.alert!)) missing.push(`${rule.alert} in docs/runbooks/${s}.md`);
    }
    expect(missing).toEqual([]);
  });

  it('has a dashboard whose every query parses and references only exported metrics and labels', () => {
    const { expressions, variables } = dashboardQueries();
    const { report, ok } = runCheck<Expression[]>(
      ['promql'],
      JSON.stringify([...expressions, ...variables.map((v) => v.selector)]),
    );
    expect(report.filter((e) => e.error)).toEqual([]);
    expect(ok).toBe(true);
    expect(report.flatMap((e) => unknownReferences(e, exported))).toEqual([]);
    for (const v of variables) {
      const metric = report.find((e) => e.expr === v.selector)!.selectors[0].metric;
      expect([metric, exported.get(metric)?.has(v.label) || TARGET_LABELS.includes(v.label)]).toEqual([metric, true]);
    }
  });

  it('fails an expression with a renamed metric, an unknown label or a syntax error', () => {
    const { report } = runCheck<Expression[]>(
      ['promql'],
      JSON.stringify([
        'sum by (group) (warden_consumer_lagg_records)',
        'sum by (tenant) (rate(warden_dead_letters_total{reason="x"}[5m]))',
        'rate(warden_messages_total[5m]',
      ]),
    );
    const problems = report.map((e) => unknownReferences(e, exported).join('; '));
    expect(problems[0]).toContain('warden_consumer_lagg_records is not exported');
    expect(problems[1]).toContain('warden_dead_letters_total has no label reason');
    expect(problems[1]).toContain('grouping by tenant');
    expect(problems[2]).toContain('unclosed left parenthesis');
  });
});
