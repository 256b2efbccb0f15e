import { HoldKind, HoldPlaced, HoldPlacedSchema, HoldReleased, HoldReleasedSchema, Topic } from '@warden/contracts';
import { ProjectionDefinition } from '@warden/platform';
import { iso, storable } from './columns';

/** trace.holds: legal and incident holds placed on runs, and their release. */
export interface HoldRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly run_id: string;
  readonly agent_id: string;
  readonly kind: string | null;
  readonly reason: string | null;
  readonly placed_by: string | null;
  readonly placed_at: string | null;
  readonly released_by: string | null;
  readonly released_at: string | null;
  readonly release_reason: string | null;
  readonly [column: string]: unknown;
}

type Handled = HoldPlaced | HoldReleased;

export const holdsProjection: ProjectionDefinition<HoldRow> = {
  name: 'holds',
  table: 'trace.holds',
  topics: [Topic.traceHolds],
  handles: [HoldPlacedSchema.typeName, HoldReleasedSchema.typeName],
  rowId: (event) => storable((event.data as Handled).holdId) || undefined,
  evolve(row, event) {
    const data = event.data as Handled;
    const base = row ?? blank(data);
    if (data.$typeName === 'warden.trace.v1.HoldPlaced') {
      if (base.placed_at !== null || base.placed_by !== null) return base;
      return storable({
        ...base,
        run_id: data.runId,
        agent_id: data.agentId,
        kind: (HoldKind[data.kind] ?? `unknown_${data.kind}`).toLowerCase(),
        reason: data.reason,
        placed_by: data.placedBy,
        placed_at: iso(data.placedAtMs),
      });
    }
    if (base.released_by !== null) return base;
    return storable({
      ...base,
      released_by: data.releasedBy,
      released_at: iso(data.releasedAtMs),
      release_reason: data.reason,
    });
  },
};

function blank(data: Handled): HoldRow {
  return storable({
    id: data.holdId,
    tenant_id: data.tenantId,
    run_id: '',
    agent_id: '',
    kind: null,
    reason: null,
    placed_by: null,
    placed_at: null,
    released_by: null,
    released_at: null,
    release_reason: null,
  });
}
