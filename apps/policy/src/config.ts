import { env, PlatformConfig, platformSchema, readConfig } from '@warden/platform';

export interface PolicyConfig extends PlatformConfig {
  readonly httpHost: string;
  readonly httpPort: number;
  /**
   * The key-encryption key (WARDEN_KEY_ENCRYPTION_KEY, base64, 32 bytes), required: it opens the
   * sealed decision-token keys and derives the keys that verify signed authority events
   * (docs/adr/0118). Policy does not start without it. A key that does not open the sealed
   * decision-token key leaves no signer, so every allow fails closed.
   */
  readonly keyEncryptionKey: string;
  readonly decisionTokenTtlMs: number;
  readonly agentTokens: 'required' | 'optional';
  readonly agentHistoryHorizonMs: number;
}

export const readPolicyConfig = (source = process.env): PolicyConfig =>
  readConfig<PolicyConfig>(
    {
      ...platformSchema,
      httpHost: env.string('HTTP_HOST', '127.0.0.1'),
      httpPort: env.port('POLICY_HTTP_PORT', 7102),
      keyEncryptionKey: env.base64Key('WARDEN_KEY_ENCRYPTION_KEY', 32),
      decisionTokenTtlMs: env.int('POLICY_DECISION_TOKEN_TTL_MS', 60_000, { min: 1000, max: 3_600_000 }),
      agentTokens: env.oneOf('POLICY_AGENT_TOKENS', ['required', 'optional'] as const, 'required'),
      agentHistoryHorizonMs: env.int('POLICY_AGENT_HISTORY_HORIZON_MS', 86_400_000, {
        min: 60_000,
        max: 2_592_000_000,
      }),
    },
    source,
  );
