import { RunDefaults } from '@warden/budget-domain';
import { DEFAULT_MAX_DEADLINE_MS } from '@warden/contracts';
import { env, PlatformConfig, platformSchema, readConfig } from '@warden/platform';

export interface BudgetConfig extends PlatformConfig {
  readonly httpHost: string;
  readonly httpPort: number;
  /** Run limits for tenants that define none for the dimension (0 = none). */
  readonly defaultRunTokens: number;
  readonly defaultRunToolCalls: number;
  /** How long a reservation holds without an outcome before it expires. */
  readonly reservationTtlMs: number;
  /** How long a reservation holds once its request awaits approval. */
  readonly approvalHoldMs: number;
  /** How far after its `requested_at_ms` a gate request's deadline may lie (docs/protocol.md). */
  readonly gateMaxDeadlineMs: number;
}

export const readBudgetConfig = (source = process.env): BudgetConfig =>
  readConfig<BudgetConfig>(
    {
      ...platformSchema,
      httpHost: env.string('HTTP_HOST', '127.0.0.1'),
      httpPort: env.port('BUDGET_HTTP_PORT', 7103),
      defaultRunTokens: env.int('BUDGET_DEFAULT_RUN_TOKENS', 100_000, { min: 0 }),
      defaultRunToolCalls: env.int('BUDGET_DEFAULT_RUN_TOOL_CALLS', 1000, { min: 0 }),
      reservationTtlMs: env.int('BUDGET_RESERVATION_TTL_MS', 3_600_000, { min: 1000 }),
      approvalHoldMs: env.int('BUDGET_APPROVAL_HOLD_MS', 86_400_000, { min: 1000 }),
      gateMaxDeadlineMs: env.int('GATE_MAX_DEADLINE_MS', DEFAULT_MAX_DEADLINE_MS, { min: 1000, max: 86_400_000 }),
    },
    source,
  );

export const runDefaults = (config: BudgetConfig): RunDefaults => ({
  tokens: config.defaultRunTokens,
  toolCalls: config.defaultRunToolCalls,
});
