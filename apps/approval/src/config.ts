import { RiskClass } from '@warden/contracts';
import { ApprovalRules } from '@warden/approval-domain';
import { ConfigError, env, PlatformConfig, platformSchema, readConfig, RetryPolicy } from '@warden/platform';
import { WebhookEndpoint } from './approval-webhooks';

export interface ApprovalConfig extends PlatformConfig {
  readonly httpHost: string;
  readonly httpPort: number;
  /** How long an approval task stays open before it expires, by default (rules.taskTtlByRiskClass and contracts refine it). */
  readonly taskTtlMs: number;
  /** The rules tasks are governed by (quorum, separation of duties, escalation, grant expiry). */
  readonly rules: ApprovalRules;
  /** How often the review ticker looks for overdue, late or killed tasks. */
  readonly reviewIntervalMs: number;
  /** How long an HTTP vote waits for the processor's verdict. */
  readonly voteTimeoutMs: number;
  /** Webhook endpoints for notifications, by recipient; none = events only. */
  readonly webhooks: readonly WebhookEndpoint[];
  readonly webhookSecret: string;
  readonly webhookRetry: RetryPolicy;
}

const RISK = /^(low|medium|high|critical)$/;
const riskClass = (name: string) => RiskClass[name.toUpperCase() as keyof typeof RiskClass];

interface RawApprovalConfig extends PlatformConfig {
  readonly httpHost: string;
  readonly httpPort: number;
  readonly taskTtlMs: number;
  readonly taskTtlByRiskClass: string;
  readonly escalateAfterMs: number;
  readonly escalateTo: string[];
  readonly grantTtlMs: number;
  readonly quorum: string;
  readonly separationOfDuties: string;
  readonly reviewIntervalMs: number;
  readonly voteTimeoutMs: number;
  readonly webhooks: string;
  readonly webhookSecret: string;
  readonly webhookRetryDelays: string;
  readonly webhookTimeoutMs: number;
}

export const readApprovalConfig = (source = process.env): ApprovalConfig => {
  const raw = readConfig<RawApprovalConfig>(
    {
      ...platformSchema,
      httpHost: env.string('HTTP_HOST', '127.0.0.1'),
      httpPort: env.port('APPROVAL_HTTP_PORT', 7104),
      taskTtlMs: env.int('APPROVAL_TASK_TTL_MS', 15 * 60_000, { min: 1 }),
      taskTtlByRiskClass: env.pattern(
        'APPROVAL_TASK_TTL_BY_RISK_CLASS',
        /^((low|medium|high|critical)=[1-9]\d{0,9})?(,(low|medium|high|critical)=[1-9]\d{0,9})*$/,
        'a list of positive ms by risk class like "high=3600000,critical=86400000" (empty = APPROVAL_TASK_TTL_MS for all)',
        '',
      ),
      escalateAfterMs: env.int('APPROVAL_ESCALATE_AFTER_MS', 5 * 60_000, { min: 0 }),
      escalateTo: env.list('APPROVAL_ESCALATE_TO', 'admin'),
      grantTtlMs: env.int('APPROVAL_GRANT_TTL_MS', 5 * 60_000, { min: 1 }),
      quorum: env.pattern(
        'APPROVAL_QUORUM',
        /^((low|medium|high|critical)=[1-9]\d?)?(,(low|medium|high|critical)=[1-9]\d?)*$/,
        'a list like "high=1,critical=2"',
        'critical=2',
      ),
      separationOfDuties: env.pattern(
        'APPROVAL_SOD_RISK_CLASSES',
        /^((low|medium|high|critical)(,(low|medium|high|critical))*)?$/,
        'a list of risk classes like "high,critical" (empty = none)',
        'high,critical',
      ),
      reviewIntervalMs: env.int('APPROVAL_REVIEW_INTERVAL_MS', 500, { min: 10 }),
      voteTimeoutMs: env.int('APPROVAL_VOTE_TIMEOUT_MS', 15_000, { min: 100 }),
      webhooks: env.pattern(
        'APPROVAL_WEBHOOKS',
        /^([^=,\s]+=https?:\/\/[^,\s]+(,[^=,\s]+=https?:\/\/[^,\s]+)*)?$/,
        'a list like "role:approver=https://hooks.example/a,team:payments=https://hooks.example/b"',
        '',
      ),
      webhookSecret: env.string('APPROVAL_WEBHOOK_SECRET', ''),
      webhookRetryDelays: env.pattern(
        'APPROVAL_WEBHOOK_RETRY_DELAYS_MS',
        /^\d+(,\d+)*$/,
        'a list of waits in ms like "1000,10000"',
        '1000,10000,60000,300000',
      ),
      webhookTimeoutMs: env.int('APPROVAL_WEBHOOK_TIMEOUT_MS', 10_000, { min: 1 }),
    },
    source,
  );
  const {
    taskTtlByRiskClass,
    escalateAfterMs,
    escalateTo,
    grantTtlMs,
    quorum,
    separationOfDuties,
    webhooks,
    webhookRetryDelays,
    webhookTimeoutMs,
    ...rest
  } = raw;
  if (webhooks !== '' && raw.webhookSecret === '') {
    throw new ConfigError(['APPROVAL_WEBHOOK_SECRET is required when APPROVAL_WEBHOOKS is set']);
  }
  const pairsOf = (list: string) => (list === '' ? [] : list.split(',').map((p) => p.split('=') as [string, string]));
  const pairs = pairsOf(quorum);
  return {
    ...rest,
    webhooks:
      webhooks === ''
        ? []
        : webhooks.split(',').map((pair) => {
            const cut = pair.indexOf('=');
            return { recipient: pair.slice(0, cut), url: pair.slice(cut + 1) };
          }),
    webhookRetry: { delaysMs: webhookRetryDelays.split(',').map(Number), timeoutMs: webhookTimeoutMs },
    rules: {
      taskTtlMs: raw.taskTtlMs,
      taskTtlByRiskClass: new Map(pairsOf(taskTtlByRiskClass).map(([c, ms]) => [riskClass(c), Number(ms)])),
      escalateAfterMs,
      escalateTo,
      grantTtlMs,
      quorum: new Map(pairs.map(([c, n]) => [riskClass(c), Number(n)])),
      separationOfDuties: new Set(
        separationOfDuties
          .split(',')
          .filter((c) => RISK.test(c))
          .map(riskClass),
      ),
    },
  };
};
