import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DomainError } from '@warden/kernel';
import { Logger } from '@warden/platform';
import { KILL_SWITCHES, KillSwitches } from './kill-switches';

export const EXPIRY_TICK_MS = Symbol('ExpiryTickMs');

/**
 * The clock of automatic expiry (ADR 0051): every tick, each engaged switch whose expiry has
 * passed gets an ExpireKillSwitch command with the tick's time, through the same gateway as the
 * HTTP commands. The decider releases it as "system"; a concurrent tick on another instance
 * loses the race (409) and is ignored. No timer lives in the domain.
 */
@Injectable()
export class ExpiryTicker implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    @Inject(KILL_SWITCHES) private readonly ks: KillSwitches,
    @Inject(EXPIRY_TICK_MS) private readonly everyMs: number,
    private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(Date.now()), this.everyMs);
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Expires every switch due at `now`; returns the ids it released. */
  async tick(now: number): Promise<string[]> {
    if (this.running || !this.ks.switches.ready) return [];
    this.running = true;
    const released: string[] = [];
    try {
      for (const [switchId, s] of this.ks.switches.state) {
        if (s.status !== 'engaged' || s.engaged.expiresAtMs === 0 || s.engaged.expiresAtMs > now) continue;
        try {
          const { events } = await this.ks.gateway.handle(
            switchId,
            { type: 'ExpireKillSwitch', switchId, now },
            { now, eventId: () => randomUUID() },
          );
          if (events.length > 0) released.push(switchId);
        } catch (error) {
          if (!(error instanceof DomainError)) this.logger.warn('expiry tick failed', { switchId, error });
        }
      }
    } finally {
      this.running = false;
    }
    return released;
  }
}
