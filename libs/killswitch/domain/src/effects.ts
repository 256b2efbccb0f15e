import { Effect, KillSwitchEngaged } from '@warden/contracts';
import { invalid } from '@warden/kernel';

/** The effect names the API accepts (the enum's names without the EFFECT_ prefix, any case). */
export const EFFECT_NAMES: Readonly<Record<string, Effect>> = {
  STOP_RUN: Effect.STOP_RUN,
  REVOKE_TOOLS: Effect.REVOKE_TOOLS,
  FREEZE_MEMORY_WRITES: Effect.FREEZE_MEMORY_WRITES,
  PREVENT_RETRIES: Effect.PREVENT_RETRIES,
  BLOCK_DELEGATION: Effect.BLOCK_DELEGATION,
  PRESERVE_TRACES: Effect.PRESERVE_TRACES,
  NOTIFY_OWNER: Effect.NOTIFY_OWNER,
  SAFE_STATE: Effect.SAFE_STATE,
};

/** Effect names to enum values, deduplicated in enum order; an unknown name is refused naming its index. */
export function parseEffects(names: readonly string[]): Effect[] {
  const out = new Set<Effect>();
  names.forEach((name, i) => {
    const effect = EFFECT_NAMES[name.toUpperCase().replace(/^EFFECT_/, '')];
    if (effect === undefined) {
      throw invalid(
        'unknown_effect',
        `effects[${i}] must be one of ${Object.keys(EFFECT_NAMES).join(', ')}`,
        `effects[${i}]`,
      );
    }
    out.add(effect);
  });
  return [...out].sort((a, b) => a - b);
}

export function effectName(effect: Effect): string {
  return Object.entries(EFFECT_NAMES).find(([, e]) => e === effect)?.[0] ?? 'UNSPECIFIED';
}

/** Whether a switch applies an effect: an empty effect list means all eight. */
export function applies(engaged: Pick<KillSwitchEngaged, 'effects'>, effect: Effect): boolean {
  return engaged.effects.length === 0 || engaged.effects.includes(effect);
}
