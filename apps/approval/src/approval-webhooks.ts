import {
  ApprovalNotificationDeadLetteredSchema,
  ApprovalNotificationRequested,
  ApprovalNotificationRequestedSchema,
  create,
  RiskClass,
  Topic,
} from '@warden/contracts';
import { RetryPolicy, WebhookReactorDefinition } from '@warden/platform';

/** Where notifications go: an endpoint for a recipient ("role:approver", "team:payments", "contact:olga" or "*"). */
export interface WebhookEndpoint {
  readonly recipient: string;
  readonly url: string;
}

/**
 * Delivers ApprovalNotificationRequested as signed webhooks (docs/adr/0050) to every endpoint
 * whose recipient the notification names. A delivery that fails every attempt is recorded as
 * ApprovalNotificationDeadLettered on approval.events (and the platform dead-letters the record).
 */
export function approvalWebhooks(
  endpoints: readonly WebhookEndpoint[],
  secret: string,
  retry: RetryPolicy,
): WebhookReactorDefinition {
  return {
    name: 'approval-webhooks',
    topics: [Topic.approvalEvents],
    handles: [ApprovalNotificationRequestedSchema.typeName],
    retry,
    deliveries(event) {
      const n = event.data as ApprovalNotificationRequested;
      const urls = [
        ...new Set(
          endpoints.filter((e) => e.recipient === '*' || n.recipients.includes(e.recipient)).map((e) => e.url),
        ),
      ];
      return urls.map((url) => ({
        id: `${n.notificationId}@${url}`,
        url,
        secret,
        type: ApprovalNotificationRequestedSchema.typeName,
        data: {
          notificationId: n.notificationId,
          kind: n.kind,
          taskId: n.taskId,
          requestId: n.requestId,
          runId: n.runId,
          tenantId: n.tenantId,
          recipients: n.recipients,
          riskClass: RiskClass[n.riskClass].toLowerCase(),
          summary: n.summary,
          requestedAt: new Date(n.requestedAtMs).toISOString(),
        },
      }));
    },
    outcome(event, message, result) {
      if (result.delivered) return [];
      const n = event.data as ApprovalNotificationRequested;
      const last = result.attempts.at(-1);
      return [
        {
          event: create(ApprovalNotificationDeadLetteredSchema, {
            notificationId: n.notificationId,
            taskId: n.taskId,
            runId: n.runId,
            url: message.url,
            attempts: result.attempts.length,
            lastError: last?.error ?? 'not attempted',
            deadLetteredAtMs: last?.atMs ?? 0,
          }),
          route: {
            topic: Topic.approvalEvents,
            key: event.key,
            tenantId: n.tenantId,
            agentId: event.agentId,
            runId: n.runId,
          },
        },
      ];
    },
  };
}
