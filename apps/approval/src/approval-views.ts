import { Envelope, StandingApprovalUsedSchema, Topic } from '@warden/contracts';
import {
  ApprovalTaskEvent,
  approvalTasks,
  ApprovalTasksState,
  StandingApprovalEvent,
  standingApprovals,
  StandingApprovalsState,
  standingStream,
} from '@warden/approval-domain';
import { TableDefinition } from '@warden/platform';

/** What became of a vote: the event that answered it. */
export type VoteOutcome =
  { readonly kind: 'counted' } | { readonly kind: 'rejected'; readonly code: string; readonly reason: string };

/** Every run's tasks as every instance sees them on approval.events: for HTTP votes and the review ticker. */
export interface TasksView {
  readonly runs: Map<string, ApprovalTasksState>;
  /** Task id -> run id. */
  readonly taskRuns: Map<string, string>;
  readonly votes: Map<string, VoteOutcome>;
}

const TASK_EVENTS = new Set<string>([
  'warden.approval.v1.ApprovalTaskOpened',
  'warden.approval.v1.ApprovalVoteRecorded',
  'warden.approval.v1.ApprovalVoteRejected',
  'warden.approval.v1.ApprovalEscalated',
  'warden.approval.v1.ApprovalGranted',
  'warden.approval.v1.ApprovalDenied',
  'warden.approval.v1.ApprovalExpired',
]);

/** The maps are owned by this table alone, so it updates them in place; each event yields a new view object. */
export const tasksViewTable: TableDefinition<TasksView> = {
  name: 'approval-tasks-view',
  topics: [Topic.approvalEvents],
  initial: () => ({ runs: new Map(), taskRuns: new Map(), votes: new Map() }),
  evolve(view, envelope: Envelope) {
    if (!TASK_EVENTS.has(envelope.type)) return view;
    const event = envelope.data as ApprovalTaskEvent;
    const before = view.runs.get(envelope.key) ?? approvalTasks.initialState;
    view.runs.set(envelope.key, approvalTasks.evolve(before, event));
    switch (event.$typeName) {
      case 'warden.approval.v1.ApprovalTaskOpened':
        if (!view.taskRuns.has(event.taskId)) view.taskRuns.set(event.taskId, envelope.key);
        break;
      case 'warden.approval.v1.ApprovalVoteRejected':
        view.votes.set(event.voteId, { kind: 'rejected', code: event.code, reason: event.reason });
        break;
      case 'warden.approval.v1.ApprovalVoteRecorded':
      case 'warden.approval.v1.ApprovalGranted':
      case 'warden.approval.v1.ApprovalDenied':
        if (event.voteId !== '') view.votes.set(event.voteId, { kind: 'counted' });
        break;
    }
    return { ...view };
  },
};

const STANDING_EVENTS = new Set<string>([
  'warden.approval.v1.StandingApprovalGranted',
  'warden.approval.v1.StandingApprovalRevoked',
  'warden.approval.v1.StandingApprovalExhausted',
  'warden.approval.v1.StandingApprovalUsed',
]);

/**
 * Every tenant's standing approvals by stream ("standing:<tenant>"), uses included: a use is
 * recorded on its run's stream, so it is folded into its tenant's stream here. Returns the same
 * map when `evolve` rejects an event, as the command gateway expects.
 */
export const standingTable: TableDefinition<Map<string, StandingApprovalsState>> = {
  name: 'approval-standing',
  topics: [Topic.approvalEvents],
  initial: () => new Map(),
  evolve(streams, envelope: Envelope) {
    if (!STANDING_EVENTS.has(envelope.type)) return streams;
    const event = envelope.data as StandingApprovalEvent;
    const stream =
      envelope.type === StandingApprovalUsedSchema.typeName ? standingStream(event.tenantId) : envelope.key;
    const before = streams.get(stream) ?? standingApprovals.initialState;
    const after = standingApprovals.evolve(before, event);
    return after === before ? streams : new Map(streams).set(stream, after);
  },
};
