import { DynamicModule } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { standingProjection, standingUsesProjection, tasksProjection } from '@warden/approval-read-models';
import { createServiceRuntime, ServiceRuntime } from '@warden/platform';
import { ServiceModule } from '@warden/platform/nest';
import { ReviewTicker } from './approval-review.ticker';
import { approvalTaskHandlers } from './approval-tasks.cqrs';
import { wireApprovalTasks } from './approval-tasks.processor';
import { standingTable, tasksViewTable } from './approval-views';
import { APPROVAL_VOTES, ApprovalVotes } from './approval-votes';
import { approvalWebhooks } from './approval-webhooks';
import { ApprovalConfig } from './config';
import { ApprovalTasksHttpController } from './http/approval-tasks.http.controller';
import { StandingApprovalsHttpController } from './http/standing-approvals.http.controller';
import { Init1763700000000 } from './migrations/1763700000000-init';
import { openTasksGauges } from './open-tasks.gauge';
import { ApprovalContext1763800000000 } from './migrations/1763800000000-approval-context';
import { STANDING_APPROVALS, standingGateway } from './standing-approvals';

/**
 * The approval service: the approval-tasks processor with its kill-switch and registry tables,
 * the views every instance folds from approval.events (tasks for votes and the review ticker,
 * standing approvals for their commands), the projections, and the Nest module.
 */
export function approvalService(config: ApprovalConfig): { runtime: ServiceRuntime; module: DynamicModule } {
  const runtime = createServiceRuntime('approval', config, {
    schema: 'approval',
    migrations: [Init1763700000000, ApprovalContext1763800000000],
  });
  const { processor, switches, registry } = wireApprovalTasks(runtime, config);
  openTasksGauges(runtime.metrics.registry, processor);
  const view = runtime.table(tasksViewTable, config.instanceId);
  const standingState = runtime.table(standingTable, config.instanceId);
  const standing = standingGateway(runtime, standingState);
  runtime.project(tasksProjection);
  runtime.project(standingProjection);
  runtime.project(standingUsesProjection);
  if (config.webhooks.length > 0) {
    runtime.webhooks(approvalWebhooks(config.webhooks, config.webhookSecret, config.webhookRetry));
  }
  const ticker = new ReviewTicker(
    runtime,
    view,
    switches,
    standing,
    standingState,
    config.reviewIntervalMs,
    runtime.logger.child({ component: 'review-ticker' }),
  );
  const module = ServiceModule.with({
    runtime,
    imports: [CqrsModule.forRoot()],
    controllers: [ApprovalTasksHttpController, StandingApprovalsHttpController],
    providers: [
      { provide: APPROVAL_VOTES, useValue: new ApprovalVotes(runtime, view, config.voteTimeoutMs, registry) },
      { provide: STANDING_APPROVALS, useValue: standing },
      { provide: ReviewTicker, useValue: ticker },
      ...approvalTaskHandlers,
    ],
  });
  return { runtime, module };
}
