import { Effect, Envelope, KillSwitchEngaged, KillSwitchReleased, Topic } from '@warden/contracts';
import { ProjectionDefinition } from '@warden/platform';

/** killswitch.switches: every kill switch, active or released, for the list and history API. */
export interface SwitchRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly run_id: string;
  readonly tool: string;
  readonly reason: string;
  readonly engaged_by: string;
  readonly engaged_at: string;
  readonly expires_at: string | null;
  readonly released_by: string | null;
  readonly released_at: string | null;
  readonly release_reason: string | null;
  /** Effect names; empty = all eight. */
  readonly effects: readonly string[];
  readonly expired: boolean;
  readonly [column: string]: unknown;
}

type Handled = KillSwitchEngaged | KillSwitchReleased;

const iso = (ms: number) => new Date(ms).toISOString();

export const switchesProjection: ProjectionDefinition<SwitchRow> = {
  name: 'switches',
  table: 'killswitch.switches',
  topics: [Topic.killswitchEvents],
  handles: ['warden.killswitch.v1.KillSwitchEngaged', 'warden.killswitch.v1.KillSwitchReleased'],
  rowId: (event: Envelope) => (event.data as Handled).switchId,
  evolve(row, event) {
    const data = event.data as Handled;
    switch (data.$typeName) {
      case 'warden.killswitch.v1.KillSwitchEngaged':
        if (row) return row;
        return {
          id: data.switchId,
          tenant_id: data.scope?.tenantId ?? '',
          agent_id: data.scope?.agentId ?? '',
          run_id: data.scope?.runId ?? '',
          tool: data.scope?.tool ?? '',
          reason: data.reason,
          engaged_by: data.engagedBy,
          engaged_at: iso(data.engagedAtMs),
          expires_at: data.expiresAtMs ? iso(data.expiresAtMs) : null,
          released_by: null,
          released_at: null,
          release_reason: null,
          effects: data.effects.map((e) => Effect[e]),
          expired: false,
        };
      case 'warden.killswitch.v1.KillSwitchReleased':
        if (!row || row.released_at) return row;
        return {
          ...row,
          released_by: data.releasedBy,
          released_at: iso(data.releasedAtMs),
          release_reason: data.reason,
          expired: data.expired,
        };
    }
  },
};
