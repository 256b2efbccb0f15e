import {
  BudgetReservationRefusedSchema,
  BudgetReservedSchema,
  Envelope,
  GateDecided,
  is,
  Verdict,
} from '@warden/contracts';
import { Histogram, Registry } from 'prom-client';

/** Where the gate's time goes, each measured from the agent's request (its `requestedAtMs`). */
export const DECISION_STAGES = ['budget', 'policy', 'published'] as const;

const VERDICTS = [Verdict.ALLOW, Verdict.DENY, Verdict.PENDING_APPROVAL, Verdict.EXPIRED, Verdict.ALREADY_COMPLETED];

/**
 * The decision-latency histogram `warden_gate_decision_seconds{verdict, stage}`: for each
 * decision answering a budget reservation, the time from the request until the budget stage
 * answered (`budget`: reservedAtMs or refusedAtMs), until policy decided (`policy`: decidedAtMs)
 * and until the decision was on Kafka (`published`). Decisions that resolve an approval are left
 * out: their time is a person's. The agent's clock stamps the request, so a skewed agent clock
 * shifts its samples (negative ones count as 0).
 */
export function decisionLatency(
  registry: Registry,
): (decision: GateDecided, input: Envelope, publishedAtMs: number) => void {
  const histogram = new Histogram({
    name: 'warden_gate_decision_seconds',
    help: 'Gate decision latency from the request, by verdict and stage (budget answered, policy decided, published)',
    labelNames: ['verdict', 'stage'],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  for (const verdict of VERDICTS) {
    for (const stage of DECISION_STAGES) histogram.zero({ verdict: Verdict[verdict].toLowerCase(), stage });
  }
  return (decision, input, publishedAtMs) => {
    const answeredAt = is(input, BudgetReservedSchema)
      ? input.data.reservedAtMs
      : is(input, BudgetReservationRefusedSchema)
        ? input.data.refusedAtMs
        : undefined;
    const requestedAt = decision.request?.requestedAtMs;
    if (answeredAt === undefined || !requestedAt) return;
    const verdict = Verdict[decision.verdict]?.toLowerCase() ?? 'unspecified';
    const since = (at: number) => Math.max(0, at - requestedAt) / 1000;
    histogram.observe({ verdict, stage: 'budget' }, since(answeredAt));
    histogram.observe({ verdict, stage: 'policy' }, since(decision.decidedAtMs));
    histogram.observe({ verdict, stage: 'published' }, since(publishedAtMs));
  };
}
