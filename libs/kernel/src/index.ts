export * from './decider';
export * from './errors';
export * from './given';
export * from './identity';
export * from './roles';
