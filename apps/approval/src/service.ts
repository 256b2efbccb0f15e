import { DynamicModule } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { tasksProjection } from '@warden/approval-read-models';
import { createServiceRuntime, ServiceRuntime } from '@warden/platform';
import { ServiceModule } from '@warden/platform/nest';
import { approvalTaskHandlers } from './approval-tasks.cqrs';
import { wireApprovalTasks } from './approval-tasks.processor';
import { ApprovalConfig } from './config';
import { ApprovalTasksHttpController } from './http/approval-tasks.http.controller';
import { Init1763700000000 } from './migrations/1763700000000-init';

/** The approval service: its runtime (tasks processor, kill-switch table, projection) and its Nest module. */
export function approvalService(config: ApprovalConfig): { runtime: ServiceRuntime; module: DynamicModule } {
  const runtime = createServiceRuntime('approval', config, { schema: 'approval', migrations: [Init1763700000000] });
  wireApprovalTasks(runtime, config);
  runtime.project(tasksProjection);
  const module = ServiceModule.with({
    runtime,
    imports: [CqrsModule.forRoot()],
    controllers: [ApprovalTasksHttpController],
    providers: approvalTaskHandlers,
  });
  return { runtime, module };
}
