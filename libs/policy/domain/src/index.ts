export * from './agent-directory';
export * from './gate';
