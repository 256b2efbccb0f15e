export * from './agent-keys';
export * from './authzen';
export * from './gate-answer';
export * from './gate-request';
