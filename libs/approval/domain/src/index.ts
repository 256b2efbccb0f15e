export * from './approval-rules';
export * from './approval-tasks';
export * from './standing-approvals';
export * from './task-context';
export * from './identity';
