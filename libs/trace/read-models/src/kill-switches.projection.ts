import {
  Effect,
  KillSwitchEngaged,
  KillSwitchEngagedSchema,
  KillSwitchReleased,
  KillSwitchReleasedSchema,
  Topic,
} from '@warden/contracts';
import { ProjectionDefinition } from '@warden/platform';
import { iso, storable } from './columns';

/**
 * trace.kill_switches: every kill switch with its scope and when it was in force, so a run
 * can be shown (and held) as "under a kill switch".
 */
export interface KillSwitchRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly run_id: string;
  readonly tool: string;
  readonly reason: string | null;
  readonly engaged_by: string | null;
  readonly engaged_at: string | null;
  readonly expires_at: string | null;
  /** The effects it applies (`preserve_traces`, ...); empty means all of them. */
  readonly effects: readonly string[];
  readonly released_by: string | null;
  readonly released_at: string | null;
  readonly [column: string]: unknown;
}

type Handled = KillSwitchEngaged | KillSwitchReleased;

export const killSwitchesProjection: ProjectionDefinition<KillSwitchRow> = {
  name: 'kill_switches',
  table: 'trace.kill_switches',
  topics: [Topic.killswitchEvents],
  handles: [KillSwitchEngagedSchema.typeName, KillSwitchReleasedSchema.typeName],
  rowId: (event) => storable((event.data as Handled).switchId) || undefined,
  evolve(row, event) {
    const data = event.data as Handled;
    const base = row ?? blank(data);
    if (data.$typeName === 'warden.killswitch.v1.KillSwitchEngaged') {
      if (base.engaged_at !== null || base.engaged_by !== null) return base;
      return storable({
        ...base,
        reason: data.reason,
        engaged_by: data.engagedBy,
        engaged_at: iso(data.engagedAtMs) ?? iso(event.time),
        expires_at: iso(data.expiresAtMs),
        effects: data.effects.map((e) => (Effect[e] ?? `unknown_${e}`).toLowerCase()),
      });
    }
    if (base.released_at !== null || base.released_by !== null) return base;
    return storable({ ...base, released_by: data.releasedBy, released_at: iso(data.releasedAtMs) ?? iso(event.time) });
  },
};

function blank(data: Handled): KillSwitchRow {
  return storable({
    id: data.switchId,
    tenant_id: data.scope?.tenantId ?? '',
    agent_id: data.scope?.agentId ?? '',
    run_id: data.scope?.runId ?? '',
    tool: data.scope?.tool ?? '',
    reason: null,
    engaged_by: null,
    engaged_at: null,
    expires_at: null,
    effects: [],
    released_by: null,
    released_at: null,
  });
}
