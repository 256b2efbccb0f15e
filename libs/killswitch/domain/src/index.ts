export * from './effects';
export * from './gate-context';
export * from './kill-switch';
export * from './revocations';
export * from './run-halts';
