import { env, PlatformConfig, platformSchema, readConfig } from '@warden/platform';

export interface ApprovalConfig extends PlatformConfig {
  readonly httpHost: string;
  readonly httpPort: number;
  /** How long an approval task stays open before it expires. */
  readonly taskTtlMs: number;
}

export const readApprovalConfig = (source = process.env): ApprovalConfig =>
  readConfig<ApprovalConfig>(
    {
      ...platformSchema,
      httpHost: env.string('HTTP_HOST', '127.0.0.1'),
      httpPort: env.port('APPROVAL_HTTP_PORT', 7104),
      taskTtlMs: env.int('APPROVAL_TASK_TTL_MS', 15 * 60_000, { min: 1 }),
    },
    source,
  );
