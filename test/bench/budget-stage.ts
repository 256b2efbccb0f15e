import { BudgetHeldSchema, BudgetReservedSchema, CE, decode, is, Topic, topicName } from '@warden/contracts';
import { KafkajsPort, Logger, readToEnd } from '@warden/platform';
import { Histogram, HistogramData, Summary } from './histogram';
import { stepIndex } from './open-loop';

/** How much of the time to a decision is spent before the budget stage has handled the request. */
export interface BudgetShare {
  /** requestedAtMs -> BudgetReserved.reservedAtMs (SDK publish, broker, budget consumer fetch and queue). */
  readonly toReserved: Summary;
  /**
   * With cross-run budgets (BENCH_BUDGETS=tenant): requestedAtMs -> BudgetHeld.heldAtMs, the run
   * stage; the rest of toReserved is the hop to the tenant's ledger. Undefined when no request went there.
   */
  readonly toRunStage?: Summary;
  /** requestedAtMs -> GateDecided.decidedAtMs, from the decisions the agents received. */
  readonly toDecided: Summary;
  /** mean(to reserved) / mean(to decided). */
  readonly shareOfMeans: number;
  /** p50(to reserved) / p50(to decided). */
  readonly shareOfMedians: number;
  readonly sampled: number;
}

const MAX_SAMPLES = 200_000;
const READ_TIMEOUT_MS = 120_000;

/**
 * Reads budget.reservations after the load (so the read does not compete with it) and
 * measures requested -> reserved for the requests of the measured window, sampling
 * evenly when there are more than MAX_SAMPLES records.
 */
export async function measureBudgetShare(
  brokers: readonly string[],
  prefix: string,
  firstMeasured: number,
  toDecided: HistogramData,
): Promise<BudgetShare> {
  const port = new KafkajsPort({ brokers, clientId: 'bench-stages', logger: new Logger('bench', 'error') });
  await port.connect();
  const topic = topicName(prefix, Topic.budgetReservations);
  const toReserved = new Histogram();
  const toHeld = new Histogram();
  try {
    const total = (await port.watermarks(topic)).reduce((a, w) => a + Number(w.high) - Number(w.low), 0);
    const every = Math.max(1, Math.ceil(total / MAX_SAMPLES));
    let seen = 0;
    const read = readToEnd(port, `${prefix}bench`, [topic], 'all', (record) => {
      seen += 1;
      const type = record.headers[CE.type];
      if (seen % every !== 0 || (type !== BudgetReservedSchema.typeName && type !== BudgetHeldSchema.typeName)) return;
      const envelope = decode(Topic.budgetReservations, record);
      const request = (envelope.data as { request?: { stepId: string; requestedAtMs: number } }).request;
      if (!request || (stepIndex(request.stepId) ?? -1) < firstMeasured) return;
      if (is(envelope, BudgetReservedSchema)) toReserved.record(envelope.data.reservedAtMs - request.requestedAtMs);
      if (is(envelope, BudgetHeldSchema)) toHeld.record(envelope.data.heldAtMs - request.requestedAtMs);
    });
    read.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`reading ${topic} took over ${READ_TIMEOUT_MS} ms`)), READ_TIMEOUT_MS);
    });
    try {
      await Promise.race([read, late]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await port.close();
  }
  const decided = Histogram.from(toDecided);
  const r = toReserved.summary();
  const d = decided.summary();
  const h = toHeld.summary();
  return {
    toReserved: r,
    toRunStage: h.count > 0 ? h : undefined,
    toDecided: d,
    shareOfMeans: r.mean / d.mean,
    shareOfMedians: r.p50 / d.p50,
    sampled: r.count,
  };
}
