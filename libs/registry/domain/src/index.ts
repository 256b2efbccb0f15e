export * from './agent';
export * from './agent-profile';
