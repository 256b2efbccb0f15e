import { performance } from 'node:perf_hooks';
import { WardenClient } from '@warden/sdk';
import { call, Identity } from '../e2e/http';
import { BENCH_AGENT } from './agent';
import { Histogram, Summary } from './histogram';
import { TARGETS } from './targets';

/** Kill-switch propagation, measured on the running stack after the gate load (TARGETS.killswitchP99Ms). */
export interface KillSwitchReport {
  readonly engages: number;
  /** Engage call returned -> the deny of a request in scope sent right after it was received. */
  readonly propagation: Summary;
  /** The engage call itself (HTTP -> Kafka -> read back by the killswitch service). */
  readonly engageCall: Summary;
  /** Requests in scope sent after the engage call returned that were allowed (must be 0). */
  readonly allowedAfterEngage: number;
  /** How busy the machine was (% of all cores) when the engages started, after the load drained. */
  readonly machineBusyBefore: number;
}

const SRE: Identity = { subject: 'bench-sre', roles: ['sre'], tenant: BENCH_AGENT.tenantId };

/**
 * For each of `engages` fresh runs: one request shows the run allowed, a switch scoped to the run
 * is engaged over HTTP, and the moment the call returns a request in scope is sent; the time from
 * the return to that request's decision is the propagation sample. It bounds the true window
 * from above (it includes one full gate round trip); an allowed answer counts as a violation and
 * the probe repeats until denied.
 */
export async function runKillSwitchBench(
  killswitchUrl: string,
  client: WardenClient,
  engages: number,
  machineBusyBefore: number,
  say: (line: string) => void,
): Promise<KillSwitchReport> {
  const propagation = new Histogram();
  const engageCall = new Histogram();
  let allowedAfterEngage = 0;
  const request = (runId: string) =>
    client.gate(
      {
        tenantId: BENCH_AGENT.tenantId,
        agentId: BENCH_AGENT.agentId,
        runId,
        environment: 'prod',
        action: { kind: 'tool_call', tool: BENCH_AGENT.tool, name: BENCH_AGENT.action },
        estimatedTokens: 1,
      },
      { timeoutMs: 10_000 },
    );
  const stamp = Date.now().toString(36);
  say(`killswitch: ${engages} engages, each scoped to a fresh run, probing right after each call returns`);
  for (let i = 0; i < engages; i++) {
    const runId = `ks-bench-${stamp}-${i}`;
    const before = await request(runId);
    if (!before.allowed) throw new Error(`run ${runId} was not allowed before its switch: ${before.reason}`);
    const started = performance.now();
    const engaged = await call(killswitchUrl, 'POST', '/killswitches', SRE, {
      switchId: `ks-bench-${stamp}-${i}`,
      scope: { tenantId: BENCH_AGENT.tenantId, runId },
      reason: 'npm run bench',
      effects: ['STOP_RUN'],
    });
    const returned = performance.now();
    if (engaged.status !== 201) throw new Error(`engage failed: ${engaged.status} ${JSON.stringify(engaged.body)}`);
    engageCall.record(returned - started);
    for (;;) {
      const r = await request(runId);
      if (r.verdict === 'deny') break;
      allowedAfterEngage += 1;
    }
    propagation.record(performance.now() - returned);
  }
  return {
    engages,
    propagation: propagation.summary(),
    engageCall: engageCall.summary(),
    allowedAfterEngage,
    machineBusyBefore,
  };
}

export function renderKillSwitch(r: KillSwitchReport): string {
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  return [
    `kill switch (${r.engages} engages)          p50        p99        max`,
    `  engage call returned -> denied  ${ms(r.propagation.p50).padStart(9)}  ${ms(r.propagation.p99).padStart(9)}  ${ms(r.propagation.max).padStart(9)}   (target p99 <= ${TARGETS.killswitchP99Ms} ms)`,
    `  engage call                     ${ms(r.engageCall.p50).padStart(9)}  ${ms(r.engageCall.p99).padStart(9)}  ${ms(r.engageCall.max).padStart(9)}`,
    `  allowed in scope after return: ${r.allowedAfterEngage} (must be 0)`,
    `  machine ${r.machineBusyBefore.toFixed(0)} % busy when the engages started (after the load drained)`,
  ].join('\n');
}
