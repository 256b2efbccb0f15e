export * from './agent-directory';
export * from './gate';
export * from './bundles/api';
