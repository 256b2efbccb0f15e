import { env, PlatformConfig, platformSchema, readConfig } from '@warden/platform';

export interface KillSwitchConfig extends PlatformConfig {
  readonly httpHost: string;
  readonly httpPort: number;
  /** Endpoints every OwnerNotified is delivered to as a signed webhook (none: events only). */
  readonly webhookUrls: readonly string[];
  readonly webhookSecret: string;
  /** Waits before webhook retries 2, 3, …; after the last one the notification is dead-lettered. */
  readonly webhookRetryMs: readonly number[];
  /** How often expiries are checked (the clock tick that releases expired switches). */
  readonly expiryTickMs: number;
  /** A run counts as live (halted by a new switch) if it asked the gate within this window. */
  readonly liveRunMs: number;
  /** How long a revocation stays listed after its switch ended (longer than any decision token lives). */
  readonly revocationRetainMs: number;
}

const URLS = /^(https?:\/\/[^\s,]+)?(,\s*https?:\/\/[^\s,]+)*$/;
const DELAYS = /^\d{1,9}(,\s*\d{1,9})*$/;
const split = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

type Raw = Omit<KillSwitchConfig, 'webhookUrls' | 'webhookRetryMs'> & { webhookUrls: string; webhookRetryMs: string };

export const readKillSwitchConfig = (source = process.env): KillSwitchConfig => {
  const raw = readConfig<Raw>(
    {
      ...platformSchema,
      httpHost: env.string('HTTP_HOST', '127.0.0.1'),
      httpPort: env.port('KILLSWITCH_HTTP_PORT', 7106),
      webhookUrls: env.pattern('KILLSWITCH_WEBHOOK_URLS', URLS, 'comma-separated http(s) URLs', ''),
      webhookSecret: env.string('KILLSWITCH_WEBHOOK_SECRET', 'whsec_d2FyZGVuLWRldmVsb3BtZW50'),
      webhookRetryMs: env.pattern(
        'KILLSWITCH_WEBHOOK_RETRY_MS',
        DELAYS,
        'comma-separated milliseconds',
        '1000,10000,60000,300000',
      ),
      expiryTickMs: env.int('KILLSWITCH_EXPIRY_TICK_MS', 1000, { min: 10, max: 60_000 }),
      liveRunMs: env.int('KILLSWITCH_LIVE_RUN_MS', 3_600_000, { min: 1000 }),
      revocationRetainMs: env.int('KILLSWITCH_REVOCATION_RETAIN_MS', 3_600_000, { min: 0 }),
    },
    source,
  );
  return { ...raw, webhookUrls: split(raw.webhookUrls), webhookRetryMs: split(raw.webhookRetryMs).map(Number) };
};
