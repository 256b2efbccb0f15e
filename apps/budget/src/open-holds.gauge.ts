import {
  LedgerCommand,
  LedgerEvent,
  LedgerState,
  RunBudgetCommand,
  RunBudgetEvent,
  RunBudgetState,
} from '@warden/budget-domain';
import { Processor } from '@warden/platform';
import { Gauge, Registry } from 'prom-client';

/**
 * `warden_budget_open_holds{stage, queue}`: the reservations this instance holds open, in the
 * run stage (per run) and in the tenant ledgers, ordinary ones (`ttl`: released at their expiry
 * unless an outcome settles them) and those kept for a pending approval (`approval`). Each
 * instance counts the partitions it owns, so the sum over instances is the service's total.
 */
export function openHoldsGauge(
  registry: Registry,
  run: Processor<RunBudgetCommand, RunBudgetState, RunBudgetEvent>,
  ledger: Processor<LedgerCommand, LedgerState, LedgerEvent>,
): Gauge<'stage' | 'queue'> {
  return new Gauge({
    name: 'warden_budget_open_holds',
    help: 'Budget reservations held open on the partitions this instance owns, by stage (run, ledger) and queue (ttl, approval)',
    labelNames: ['stage', 'queue'],
    registers: [registry],
    collect() {
      for (const [stage, states] of [
        ['run', run.states()],
        ['ledger', ledger.states()],
      ] as const) {
        let ttl = 0;
        let approval = 0;
        for (const s of states) {
          ttl += s.queues.ttl.items.size;
          approval += s.queues.approval.items.size;
        }
        this.set({ stage, queue: 'ttl' }, ttl);
        this.set({ stage, queue: 'approval' }, approval);
      }
    },
  });
}
