import { RunLimits } from '@warden/budget-domain';
import { env, PlatformConfig, platformSchema, readConfig } from '@warden/platform';

export interface BudgetConfig extends PlatformConfig {
  readonly httpHost: string;
  readonly httpPort: number;
  /** Run limits for tenants that defined none (0 = unlimited). */
  readonly defaultRunTokens: number;
  readonly defaultRunToolCalls: number;
}

export const readBudgetConfig = (source = process.env): BudgetConfig =>
  readConfig<BudgetConfig>(
    {
      ...platformSchema,
      httpHost: env.string('HTTP_HOST', '127.0.0.1'),
      httpPort: env.port('BUDGET_HTTP_PORT', 7103),
      defaultRunTokens: env.int('BUDGET_DEFAULT_RUN_TOKENS', 100_000, { min: 0 }),
      defaultRunToolCalls: env.int('BUDGET_DEFAULT_RUN_TOOL_CALLS', 1000, { min: 0 }),
    },
    source,
  );

export const defaultRunLimits = (config: BudgetConfig): RunLimits => ({
  tokens: config.defaultRunTokens,
  toolCalls: config.defaultRunToolCalls,
});
