import { ApprovalTaskCommand, ApprovalTaskEvent, ApprovalTasksState, openTasks } from '@warden/approval-domain';
import { Processor } from '@warden/platform';
import { Gauge, Registry } from 'prom-client';

/**
 * `warden_approval_open_tasks`: approval tasks waiting for votes on the partitions this instance
 * owns (the sum over instances is the service's total), and the age of the oldest of them.
 */
export function openTasksGauges(
  registry: Registry,
  tasks: Processor<ApprovalTaskCommand, ApprovalTasksState, ApprovalTaskEvent>,
  now: () => number = Date.now,
): void {
  const open = () => [...tasks.states()].flatMap((s) => openTasks(s));
  new Gauge({
    name: 'warden_approval_open_tasks',
    help: 'Approval tasks open (waiting for votes) on the partitions this instance owns',
    registers: [registry],
    collect() {
      this.set(open().length);
    },
  });
  new Gauge({
    name: 'warden_approval_oldest_open_task_seconds',
    help: 'Age of the oldest open approval task on the partitions this instance owns (0 when none)',
    registers: [registry],
    collect() {
      const oldest = Math.min(...open().map((t) => t.opened.openedAtMs));
      this.set(Number.isFinite(oldest) ? Math.max(0, now() - oldest) / 1000 : 0);
    },
  });
}
