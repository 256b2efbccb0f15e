export * from './agents.projection';
export * from './agents.queries';
export * from './registry.projections';
export * from './registry.queries';
