import {
  DPOP_TYP,
  GateRequested,
  GateRequestedSchema,
  jwkThumbprint,
  newProofKey,
  tokenHash,
  verifyProof,
} from '@warden/contracts';
import { decodeBody, prepareGateRequest } from '@warden/gateway-domain';
import { BENCH_AGENT } from './agent';
import {
  gatewayCall,
  gatewayPlan,
  gatewayProblems,
  gatewayRatios,
  GatewayReport,
  PathReport,
  renderGateway,
} from './gateway';

const path = (
  p50: number,
  p99: number,
  perSecond: number,
  verdicts: Record<string, number> = { allow: 10 },
): PathReport => ({
  requests: 10,
  latency: { count: 10, mean: p50, p50, p95: p99, p99, p999: p99, max: p99 },
  perSecond,
  seconds: 10 / perSecond,
  verdicts,
  firstUnexpected: verdicts.allow === 10 ? undefined : 'deny: not granted',
  coreMs: { system: 4, gateway: 1, client: 0.5 },
});
const report = (kafka: PathReport, gateway: PathReport): GatewayReport => ({
  requests: 10,
  concurrency: 2,
  plan: gatewayPlan(10, 2),
  kafka,
  gateway,
  ratios: gatewayRatios(kafka, gateway),
  machineBusyBefore: 12,
});

describe('gatewayPlan', () => {
  it('splits each path into halves, ABBA (kafka, gateway, gateway, kafka), after 2 x concurrency warm-up requests', () => {
    expect(gatewayPlan(101, 8)).toEqual({
      warmup: 16,
      rounds: [
        { path: 'kafka', requests: 51 },
        { path: 'gateway', requests: 51 },
        { path: 'gateway', requests: 50 },
        { path: 'kafka', requests: 50 },
      ],
    });
  });

  it('leaves out empty rounds', () => {
    expect(gatewayPlan(1, 1).rounds).toEqual([
      { path: 'kafka', requests: 1 },
      { path: 'gateway', requests: 1 },
    ]);
  });
});

describe('the gateway/Kafka ratios', () => {
  it('divide the gateway path by the Kafka path: latency above 1 and throughput below 1 are the overhead', () => {
    expect(gatewayRatios(path(10, 40, 200), path(15, 50, 150))).toEqual({ p50: 1.5, p99: 1.25, throughput: 0.75 });
  });

  it('are rendered beside both paths', () => {
    const text = renderGateway(report(path(10, 40, 200), path(15, 50, 150)));
    expect(text).toMatch(/latency p50 \(ms\)\s+10\.00\s+15\.00\s+1\.50x/);
    expect(text).toMatch(/throughput \(\/s\)\s+200\.0\s+150\.0\s+0\.75x/);
    expect(text).toMatch(/rounds kafka 5, gateway 5, gateway 5, kafka 5; 4 warm-up each/);
  });
});

describe('gatewayProblems', () => {
  it('fails the run on any answer other than allow, on either path', () => {
    expect(gatewayProblems(report(path(1, 2, 3), path(1, 2, 3)))).toEqual([]);
    expect(gatewayProblems(report(path(1, 2, 3), path(1, 2, 3, { allow: 8, deny: 1, 'HTTP 400': 1 })))).toEqual([
      'gateway section, gateway path: answers other than allow (deny 1, HTTP 400 1); first: deny: not granted',
    ]);
  });
});

describe('gatewayCall', () => {
  const key = newProofKey();
  const jkt = jwkThumbprint(key.jwk);
  const token = 'eyJ.bench.token';
  const url = 'http://127.0.0.1:7107/v1/gate';
  const body = {
    requestId: 'r-1',
    runId: 'run-1',
    actionKind: 'tool_call',
    tool: BENCH_AGENT.tool,
    action: BENCH_AGENT.action,
    arguments: { ticketId: 3 },
    environment: 'prod',
    estimatedTokens: 1,
    requestedAtMs: 1_700_000_000_000,
    deadlineMs: 1_700_000_010_000,
  };

  it('sends the DPoP-bound token and a DPoP proof of this call (htm, htu, ath) by the agent key', () => {
    const { headers } = gatewayCall(url, token, key, body);
    expect(headers.authorization).toBe(`DPoP ${token}`);
    const proof = verifyProof(headers.dpop, DPOP_TYP);
    expect(proof.ok && { jkt: proof.jkt, ...proof.claims }).toMatchObject({
      jkt,
      htm: 'POST',
      htu: url,
      ath: tokenHash(token),
    });
  });

  it('proves the request the gateway will publish, so the gateway accepts it', () => {
    const call = gatewayCall(url, token, key, body);
    const agent = {
      token,
      jkt,
      claims: {
        iss: 'r',
        aud: 'w',
        sub: BENCH_AGENT.agentId,
        tenant: BENCH_AGENT.tenantId,
        cid: 'c',
        iat: 0,
        exp: 0,
        jti: 'j',
        cnf: { jkt },
      },
    };
    const sent = decodeBody<GateRequested>(GateRequestedSchema, JSON.parse(call.body));
    const r = prepareGateRequest(sent, agent, call.headers['warden-request-proof'], { maxDeadlineMs: 300_000 });
    expect({ agentId: r.agentId, tool: r.tool, args: r.arguments }).toEqual({
      agentId: BENCH_AGENT.agentId,
      tool: BENCH_AGENT.tool,
      args: { ticketId: 3 },
    });
    const other = gatewayCall(url, token, key, { ...body, requestId: 'r-2' });
    expect(() =>
      prepareGateRequest(sent, agent, other.headers['warden-request-proof'], { maxDeadlineMs: 300_000 }),
    ).toThrow(/proof/);
  });
});
