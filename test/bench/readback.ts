import {
  BudgetHeldSchema,
  BudgetReservedSchema,
  CE,
  decode,
  GateDecidedSchema,
  is,
  Topic,
  topicName,
  Verdict,
} from '@warden/contracts';
import { KafkajsPort, Logger, readToEnd } from '@warden/platform';
import { Histogram, HistogramData, Summary } from './histogram';
import { loadLabelOf, stepIndex } from './open-loop';

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

/**
 * How the gate decided a load's requests, read back from gate.decisions: every request must get
 * one decision, and a request decided after its deadline must be `expired`, never allowed.
 */
export interface DeadlineAudit {
  /** Distinct requests of the load (warm-up included) with a decision. */
  readonly decided: number;
  /** Requests sent that have no decision at all. */
  readonly undecided: number;
  /** Decisions beyond the first for a request. */
  readonly duplicates: number;
  readonly verdicts: Record<string, number>;
  /** Decisions made after the request's deadline, by verdict (all must be `expired`). */
  readonly late: Record<string, number>;
  /** Requests allowed after their deadline (must be 0). */
  readonly allowedLate: number;
}

export interface ReadBack {
  readonly budget?: BudgetShare;
  readonly audit: DeadlineAudit;
}

/** What the read-back needs to know of a load. */
export interface LoadToRead {
  readonly label: string;
  readonly sent: number;
  readonly firstMeasured: number;
  readonly toLastStamp: HistogramData;
}

const MAX_BUDGET_SAMPLES = 200_000;
const READ_TIMEOUT_MS = 300_000;

/**
 * Reads budget.reservations and gate.decisions once after the loads (so the read does not compete
 * with them) and, per load (told apart by its run ids): the budget stage's share of the time to a
 * decision over the measured window (sampling budget records evenly beyond MAX_BUDGET_SAMPLES),
 * and the deadline audit over all its requests.
 */
export async function readBack(
  brokers: readonly string[],
  prefix: string,
  loads: readonly LoadToRead[],
): Promise<Record<string, ReadBack>> {
  const port = new KafkajsPort({ brokers, clientId: 'bench-readback', logger: new Logger('bench', 'error') });
  await port.connect();
  const reservations = topicName(prefix, Topic.budgetReservations);
  const decisions = topicName(prefix, Topic.gateDecisions);
  const byLabel = new Map(loads.map((l) => [l.label, l]));
  const toReserved = new Map(loads.map((l) => [l.label, new Histogram()]));
  const toHeld = new Map(loads.map((l) => [l.label, new Histogram()]));
  const audits = new Map(loads.map((l) => [l.label, new AuditCounts()]));
  try {
    const total = (await port.watermarks(reservations)).reduce((a, w) => a + Number(w.high) - Number(w.low), 0);
    const every = Math.max(1, Math.ceil(total / MAX_BUDGET_SAMPLES));
    let seen = 0;
    const read = readToEnd(port, `${prefix}bench`, [reservations, decisions], 'all', (record) => {
      const label = record.key ? loadLabelOf(record.key) : undefined;
      const load = label === undefined ? undefined : byLabel.get(label);
      const type = record.headers[CE.type];
      if (!load) return;
      if (record.topic === decisions) {
        if (type !== GateDecidedSchema.typeName) return;
        const envelope = decode(Topic.gateDecisions, record);
        if (is(envelope, GateDecidedSchema)) audits.get(load.label)!.add(envelope.data);
        return;
      }
      seen += 1;
      if (seen % every !== 0 || (type !== BudgetReservedSchema.typeName && type !== BudgetHeldSchema.typeName)) return;
      const envelope = decode(Topic.budgetReservations, record);
      const request = (envelope.data as { request?: { stepId: string; requestedAtMs: number } }).request;
      if (!request || (stepIndex(request.stepId) ?? -1) < load.firstMeasured) return;
      if (is(envelope, BudgetReservedSchema))
        toReserved.get(load.label)!.record(envelope.data.reservedAtMs - request.requestedAtMs);
      if (is(envelope, BudgetHeldSchema))
        toHeld.get(load.label)!.record(envelope.data.heldAtMs - request.requestedAtMs);
    });
    read.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`reading ${reservations} and ${decisions} took over ${READ_TIMEOUT_MS} ms`)),
        READ_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([read, late]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await port.close();
  }
  return Object.fromEntries(
    loads.map((l) => [
      l.label,
      {
        budget: budgetShare(toReserved.get(l.label)!, toHeld.get(l.label)!, l.toLastStamp),
        audit: audits.get(l.label)!.audit(l.sent),
      },
    ]),
  );
}

function budgetShare(toReserved: Histogram, toHeld: Histogram, toDecided: HistogramData): BudgetShare | undefined {
  const r = toReserved.summary();
  if (r.count === 0) return undefined;
  const d = Histogram.from(toDecided).summary();
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

class AuditCounts {
  private readonly first = new Set<string>();
  private duplicates = 0;
  private readonly verdicts: Record<string, number> = {};
  private readonly late: Record<string, number> = {};

  add(d: { requestId: string; verdict: Verdict; decidedAtMs: number; request?: { deadlineMs: number } }): void {
    if (this.first.has(d.requestId)) {
      this.duplicates += 1;
      return;
    }
    this.first.add(d.requestId);
    const verdict = (Verdict[d.verdict] ?? String(d.verdict)).toLowerCase();
    this.verdicts[verdict] = (this.verdicts[verdict] ?? 0) + 1;
    const deadline = d.request?.deadlineMs ?? 0;
    if (deadline > 0 && d.decidedAtMs > deadline) this.late[verdict] = (this.late[verdict] ?? 0) + 1;
  }

  audit(sent: number): DeadlineAudit {
    return {
      decided: this.first.size,
      undecided: Math.max(0, sent - this.first.size),
      duplicates: this.duplicates,
      verdicts: this.verdicts,
      late: this.late,
      allowedLate: this.late.allow ?? 0,
    };
  }
}
