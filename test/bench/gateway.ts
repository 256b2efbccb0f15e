import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { dpopProof, GateRequested, GateRequestedSchema, newProofKey, ProofKey, requestProof } from '@warden/contracts';
import { decodeBody, requestToProve } from '@warden/gateway-domain';
import { AgentTokenSource, WardenClient } from '@warden/sdk';
import { call, Identity } from '../e2e/http';
import { BENCH_AGENT } from './agent';
import { cpuUse, snapshot } from './cpu';
import { Histogram, Summary } from './histogram';

/**
 * The gateway section: the same closed-loop load of gate requests through the SDK over Kafka and
 * through the HTTP gate (POST /v1/gate), on one stack in one invocation, both with a DPoP-bound
 * agent token and a request proof by the agent's key on every request, so the gate does the same
 * work for both and the difference is the gateway's (docs/benchmarks.md).
 */
export type GatePath = 'kafka' | 'gateway';

export interface GatewayPlan {
  /** Unmeasured requests per path before its first round (connections, reply listeners, JIT). */
  readonly warmup: number;
  /** The measured rounds, in order: ABBA, so a drift of the machine weighs on both paths alike. */
  readonly rounds: readonly { readonly path: GatePath; readonly requests: number }[];
}

/** `requests` per path in rounds kafka, gateway, gateway, kafka (halves), after `2 x concurrency` warm-up requests each. */
export function gatewayPlan(requests: number, concurrency: number): GatewayPlan {
  const first = Math.ceil(requests / 2);
  const second = requests - first;
  const rounds = [
    { path: 'kafka' as const, requests: first },
    { path: 'gateway' as const, requests: first },
    { path: 'gateway' as const, requests: second },
    { path: 'kafka' as const, requests: second },
  ].filter((r) => r.requests > 0);
  return { warmup: 2 * concurrency, rounds };
}

/** One path's measured requests. */
export interface PathReport {
  readonly requests: number;
  /** Send -> answer, ms. */
  readonly latency: Summary;
  /** Measured answers over the measured rounds' time. */
  readonly perSecond: number;
  readonly seconds: number;
  readonly verdicts: Record<string, number>;
  /** Answers other than allow (or no answer in time, or an HTTP error): the first one, for the log. */
  readonly firstUnexpected?: string;
  /** CPU core-ms per request over the measured rounds: the system (services, gateway, broker, Postgres), the gateway, the bench's client. */
  readonly coreMs: { readonly system: number; readonly gateway: number; readonly client: number };
}

export interface GatewayReport {
  readonly requests: number;
  readonly concurrency: number;
  readonly plan: GatewayPlan;
  readonly kafka: PathReport;
  readonly gateway: PathReport;
  /** Gateway / Kafka path: p50, p99 (latency: above 1 is slower) and throughput (below 1 is slower). */
  readonly ratios: { readonly p50: number; readonly p99: number; readonly throughput: number };
  /** How busy the machine was (% of all cores) when the section started. */
  readonly machineBusyBefore: number;
}

export function gatewayRatios(kafka: PathReport, gateway: PathReport): GatewayReport['ratios'] {
  return {
    p50: gateway.latency.p50 / kafka.latency.p50,
    p99: gateway.latency.p99 / kafka.latency.p99,
    throughput: gateway.perSecond / kafka.perSecond,
  };
}

/** Why the section fails the run: any answer other than allow on either path. */
export function gatewayProblems(r: GatewayReport): string[] {
  const out: string[] = [];
  for (const path of ['kafka', 'gateway'] as const) {
    const other = Object.entries(r[path].verdicts).filter(([v]) => v !== 'allow');
    if (other.length > 0)
      out.push(
        `gateway section, ${path} path: answers other than allow (${other.map(([v, n]) => `${v} ${n}`).join(', ')}); first: ${r[path].firstUnexpected}`,
      );
  }
  return out;
}

export function renderGateway(r: GatewayReport): string {
  const f = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
  const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : '-');
  const rows: [string, (p: PathReport) => number, number, boolean][] = [
    ['requests measured', (p) => p.requests, 0, false],
    ['throughput (/s)', (p) => p.perSecond, 1, true],
    ['latency p50 (ms)', (p) => p.latency.p50, 2, true],
    ['latency p95 (ms)', (p) => p.latency.p95, 2, true],
    ['latency p99 (ms)', (p) => p.latency.p99, 2, true],
    ['latency max (ms)', (p) => p.latency.max, 2, true],
    ['CPU core-ms per request: system', (p) => p.coreMs.system, 2, true],
    ['  of which the gateway', (p) => p.coreMs.gateway, 2, false],
    ['CPU core-ms per request: client', (p) => p.coreMs.client, 2, true],
  ];
  const cells = [['', 'Kafka (SDK)', 'gateway (HTTP)', 'gateway/Kafka']];
  for (const [label, get, digits, ratio] of rows) {
    const [k, g] = [get(r.kafka), get(r.gateway)];
    cells.push([label, f(k, digits), f(g, digits), ratio ? x(g / k) : '']);
  }
  const width = cells[0].map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  const verdicts = (p: PathReport) =>
    Object.entries(p.verdicts)
      .map(([v, n]) => `${v} ${n}`)
      .join(', ') || 'none';
  return [
    `gateway: POST /v1/gate against the SDK over Kafka, closed loop, ${r.concurrency} in flight, ${r.requests} requests per path ` +
      `(rounds ${r.plan.rounds.map((p) => `${p.path} ${p.requests}`).join(', ')}; ${r.plan.warmup} warm-up each)`,
    ...cells.map((c) => `  ${c.map((v, i) => (i === 0 ? v.padEnd(width[i]) : v.padStart(width[i]))).join('   ')}`),
    `  verdicts: Kafka ${verdicts(r.kafka)}; gateway ${verdicts(r.gateway)}`,
    `  machine ${f(r.machineBusyBefore, 0)} % busy when the section started`,
  ].join('\n');
}

/** What an answer was, for the verdict counts. */
interface Answer {
  readonly verdict: string;
  readonly reason: string;
}

/** Sends `n` requests with `concurrency` in flight, each lane one after the other; latency per request. */
async function closedLoop(
  n: number,
  concurrency: number,
  send: (lane: number, step: number) => Promise<Answer>,
  into?: { latency: Histogram; verdicts: Record<string, number>; firstUnexpected?: string },
): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async (_, lane) => {
      for (let step = 0; next < n; step++) {
        next += 1;
        const t = performance.now();
        const a = await send(lane, step);
        if (!into) continue;
        into.latency.record(performance.now() - t);
        into.verdicts[a.verdict] = (into.verdicts[a.verdict] ?? 0) + 1;
        if (a.verdict !== 'allow') into.firstUnexpected ??= `${a.verdict}: ${a.reason}`;
      }
    }),
  );
  return (performance.now() - started) / 1000;
}

/** The headers and body of one POST /v1/gate: the agent's token, a DPoP proof of the call, the request's proof. */
export function gatewayCall(
  url: string,
  token: string,
  key: ProofKey,
  body: Record<string, unknown>,
): { headers: Record<string, string>; body: string } {
  const sent = decodeBody<GateRequested>(GateRequestedSchema, {
    ...body,
    tenantId: BENCH_AGENT.tenantId,
    agentId: BENCH_AGENT.agentId,
  });
  const dpop = dpopProof(key, url, Date.now(), token);
  return {
    headers: {
      'content-type': 'application/json',
      authorization: `DPoP ${token}`,
      dpop,
      'warden-request-proof': requestProof(requestToProve(sent, token), key),
    },
    body: JSON.stringify(body),
  };
}

export interface GatewayBenchOptions {
  readonly brokers: readonly string[];
  readonly prefix: string;
  readonly registryUrl: string;
  readonly gatewayUrl: string;
  readonly requests: number;
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly stepsPerRun: number;
  /** The processes of the system under test, by name (`gateway` among them). */
  readonly pids: Record<string, number | undefined>;
  readonly machineBusyBefore: number;
}

const ADMIN: Identity = { subject: 'bench', roles: ['admin'], tenant: BENCH_AGENT.tenantId };

/** Runs the section on a stack with the bench agent registered and active and the gateway started. */
export async function runGatewayBench(o: GatewayBenchOptions, say: (line: string) => void): Promise<GatewayReport> {
  const credential = await call(o.registryUrl, 'POST', `/agents/${BENCH_AGENT.agentId}/credentials`, ADMIN, {
    kind: 'client_secret',
    reason: 'npm run bench: the gateway section',
  });
  if (credential.status !== 201 && credential.status !== 200)
    throw new Error(`the bench agent's credential: ${credential.status} ${JSON.stringify(credential.body)}`);
  const credentials = {
    registryUrl: o.registryUrl,
    agentId: BENCH_AGENT.agentId,
    clientSecret: credential.body.clientSecret as string,
  };
  const key = newProofKey();
  const tokens = new AgentTokenSource(credentials, Date.now, key);
  const client = await WardenClient.connect({
    brokers: o.brokers,
    topicPrefix: o.prefix,
    clientId: 'bench-gateway-section',
    agent: BENCH_AGENT,
    proofKey: key,
    credentials,
  });
  const stamp = Date.now().toString(36);
  // Each lane is one agent run of stepsPerRun steps at a time, as in the other loads.
  const runId = (path: GatePath, round: number, lane: number, step: number) =>
    `gw-bench-${stamp}-${path}-${round}-${lane}-${Math.floor(step / o.stepsPerRun)}`;
  const viaKafka = (round: number) => async (lane: number, step: number) => {
    const r = await client.gate(
      {
        runId: runId('kafka', round, lane, step),
        environment: 'prod',
        action: { kind: 'tool_call', tool: BENCH_AGENT.tool, name: BENCH_AGENT.action },
        arguments: { ticketId: step },
        estimatedTokens: 1,
      },
      { timeoutMs: o.timeoutMs },
    );
    return { verdict: r.timedOut ? 'no answer' : r.verdict, reason: r.reason };
  };
  const url = `${o.gatewayUrl}/v1/gate`;
  const viaGateway = (round: number) => async (lane: number, step: number) => {
    const now = Date.now();
    const call = gatewayCall(url, await tokens.token(), key, {
      requestId: randomUUID(),
      runId: runId('gateway', round, lane, step),
      actionKind: 'tool_call',
      tool: BENCH_AGENT.tool,
      action: BENCH_AGENT.action,
      arguments: { ticketId: step },
      environment: 'prod',
      estimatedTokens: 1,
      requestedAtMs: now,
      deadlineMs: now + o.timeoutMs,
    });
    try {
      const res = await fetch(url, { method: 'POST', ...call, signal: AbortSignal.timeout(o.timeoutMs + 5000) });
      const body = (await res.json()) as { verdict?: string; reason?: string; timedOut?: boolean; detail?: string };
      if (res.status !== 200) return { verdict: `HTTP ${res.status}`, reason: body.detail ?? '' };
      return { verdict: body.timedOut ? 'no answer' : (body.verdict ?? '?'), reason: body.reason ?? '' };
    } catch (error) {
      return { verdict: 'no answer', reason: (error as Error).message };
    }
  };

  const plan = gatewayPlan(o.requests, o.concurrency);
  const paths = {
    kafka: {
      latency: new Histogram(),
      verdicts: {} as Record<string, number>,
      firstUnexpected: undefined as string | undefined,
      seconds: 0,
      requests: 0,
      coreMs: { system: 0, gateway: 0, client: 0 },
    },
    gateway: {
      latency: new Histogram(),
      verdicts: {} as Record<string, number>,
      firstUnexpected: undefined as string | undefined,
      seconds: 0,
      requests: 0,
      coreMs: { system: 0, gateway: 0, client: 0 },
    },
  };
  const pids = { ...o.pids, client: process.pid };
  try {
    say(
      `gateway: ${plan.warmup} warm-up requests per path, then rounds ${plan.rounds.map((r) => `${r.path} ${r.requests}`).join(', ')}, ${o.concurrency} in flight`,
    );
    await closedLoop(plan.warmup, o.concurrency, viaKafka(-1));
    await closedLoop(plan.warmup, o.concurrency, viaGateway(-1));
    for (const [i, round] of plan.rounds.entries()) {
      const p = paths[round.path];
      const before = snapshot(pids);
      p.seconds += await closedLoop(
        round.requests,
        o.concurrency,
        (round.path === 'kafka' ? viaKafka : viaGateway)(i),
        p,
      );
      const used = cpuUse(before, snapshot(pids), cpus().length).coreMs;
      for (const [name, ms] of Object.entries(used)) {
        if (name === 'client') p.coreMs.client += ms;
        else p.coreMs.system += ms;
        if (name === 'gateway') p.coreMs.gateway += ms;
      }
      p.requests += round.requests;
      say(`gateway: round ${i + 1} (${round.path}, ${round.requests} requests) done`);
    }
  } finally {
    await client.close();
  }
  const report = (p: (typeof paths)[GatePath]): PathReport => ({
    requests: p.requests,
    latency: p.latency.summary(),
    perSecond: p.requests / p.seconds,
    seconds: p.seconds,
    verdicts: p.verdicts,
    firstUnexpected: p.firstUnexpected,
    coreMs: {
      system: p.coreMs.system / p.requests,
      gateway: p.coreMs.gateway / p.requests,
      client: p.coreMs.client / p.requests,
    },
  });
  const kafka = report(paths.kafka);
  const gateway = report(paths.gateway);
  return {
    requests: o.requests,
    concurrency: o.concurrency,
    plan,
    kafka,
    gateway,
    ratios: gatewayRatios(kafka, gateway),
    machineBusyBefore: o.machineBusyBefore,
  };
}
