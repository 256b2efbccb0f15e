import { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import {
  ActiveSwitches,
  covering,
  create,
  GateRequestedSchema,
  ReviewApprovalTasksSchema,
  Topic,
} from '@warden/contracts';
import { dueForExhaustion, openTasks, StandingApprovalsState } from '@warden/approval-domain';
import { Logger, ServiceRuntime, Table, toRecord } from '@warden/platform';
import { randomUUID } from 'node:crypto';
import { TasksView } from './approval-views';
import { StandingGateway } from './standing-approvals';

/**
 * The review ticker: the one clock of the approval service, outside the domain. Every interval it
 * looks at every open task (as folded from approval.events by this instance) and, for each run
 * with a task that is overdue, due for escalation or covered by a kill switch, publishes a
 * ReviewApprovalTasks command on approval.commands (keyed by run id). The approval-tasks
 * processor decides what that means, with the time of handling. It also records standing
 * approvals that reached max_uses. Restart-safe: all it reads is rebuilt from Kafka, and a
 * repeated command changes nothing (docs/adr/0040-approval-review-ticks.md).
 */
export class ReviewTicker implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  /** Run id -> when a review was last requested, so a slow processor is not flooded. */
  private readonly requested = new Map<string, number>();

  constructor(
    private readonly runtime: ServiceRuntime,
    private readonly view: Table<TasksView>,
    private readonly switches: Table<ActiveSwitches>,
    private readonly standing: StandingGateway,
    private readonly standingTable: Table<Map<string, StandingApprovalsState>>,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running = this.running
        .then(async () => {
          await this.tick(Date.now());
        })
        .catch((error: unknown) => {
          this.log.warn('review tick failed; retrying on the next one', { error: (error as Error).message });
        });
    }, this.intervalMs);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One review pass at `now`; returns the runs it asked to review. */
  async tick(now: number): Promise<string[]> {
    if (!this.view.ready || !this.switches.ready) return [];
    const due: { runId: string; tenantId: string; agentId: string }[] = [];
    for (const [runId, state] of this.view.state.runs) {
      const open = openTasks(state);
      if (open.length === 0) {
        this.requested.delete(runId);
        continue;
      }
      const needsReview = open.some((t) => {
        const request = t.opened.request ?? create(GateRequestedSchema);
        return (
          t.opened.expiresAtMs <= now ||
          (!t.escalated && t.opened.escalateAtMs > 0 && t.opened.escalateAtMs <= now) ||
          covering(this.switches.state, request, now).length > 0
        );
      });
      const last = this.requested.get(runId);
      if (!needsReview || (last !== undefined && now - last < 10 * this.intervalMs)) continue;
      const request = open[0].opened.request ?? create(GateRequestedSchema);
      due.push({ runId, tenantId: request.tenantId, agentId: request.agentId });
      this.requested.set(runId, now);
    }
    if (due.length > 0) {
      await this.runtime.port.publish(
        due.map((d) =>
          toRecord(
            this.runtime.prefix,
            'warden://approval/review-ticker',
            randomUUID(),
            now,
            create(ReviewApprovalTasksSchema, { runId: d.runId, tenantId: d.tenantId, requestedAtMs: now }),
            { topic: Topic.approvalCommands, key: d.runId, tenantId: d.tenantId, agentId: d.agentId, runId: d.runId },
          ),
        ),
      );
    }
    await this.exhaustStandingApprovals(now);
    return due.map((d) => d.runId);
  }

  private async exhaustStandingApprovals(now: number): Promise<void> {
    if (!this.standingTable.ready) return;
    for (const [stream, state] of this.standingTable.state) {
      for (const s of dueForExhaustion(state)) {
        await this.standing.handle(
          stream,
          { type: 'ExhaustStandingApproval', tenantId: s.granted.tenantId, standingId: s.granted.standingId, now },
          { now, eventId: () => randomUUID() },
        );
      }
    }
  }
}
