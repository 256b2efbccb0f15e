export * from './approval-tasks';
export * from './task-access';
