import {
  create,
  OwnerNotificationDeliveredSchema,
  OwnerNotified,
  OwnerNotifiedSchema,
  toJson,
  Topic,
} from '@warden/contracts';
import { ServiceRuntime } from '@warden/platform';
import { KillSwitchConfig } from './config';

/**
 * Effect 7, the outbound half: every OwnerNotified is delivered as a signed webhook (ADR 0050) to
 * each configured endpoint; each outcome is recorded as OwnerNotificationDelivered, and a
 * notification no endpoint took after the last retry goes to the dead-letter topic.
 */
export function wireOwnerWebhooks(runtime: ServiceRuntime, config: KillSwitchConfig): void {
  if (config.webhookUrls.length === 0) return;
  runtime.webhooks({
    name: 'killswitch-owner-webhooks',
    topics: [Topic.killswitchEvents],
    handles: [OwnerNotifiedSchema.typeName],
    retry: { delaysMs: config.webhookRetryMs, timeoutMs: 10_000 },
    deliveries: (event) => {
      const notified = event.data as OwnerNotified;
      return config.webhookUrls.map((url) => ({
        id: notified.notificationId,
        url,
        secret: config.webhookSecret,
        type: event.type,
        data: toJson(OwnerNotifiedSchema, notified),
      }));
    },
    outcome: (event, message, result) => {
      const notified = event.data as OwnerNotified;
      const last = result.attempts.at(-1);
      return [
        {
          event: create(OwnerNotificationDeliveredSchema, {
            switchId: notified.switchId,
            notificationId: notified.notificationId,
            url: message.url,
            delivered: result.delivered,
            attempts: result.attempts.length,
            lastStatus: last?.status ?? 0,
            lastError: last?.error ?? '',
            atMs: last?.atMs ?? 0,
          }),
          route: {
            topic: Topic.killswitchEvents,
            key: notified.switchId,
            tenantId: notified.scope?.tenantId ?? '',
            agentId: notified.scope?.agentId ?? '',
            runId: notified.scope?.runId ?? '',
          },
        },
      ];
    },
  });
}
