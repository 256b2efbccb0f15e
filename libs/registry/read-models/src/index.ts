export * from './agents.projection';
export * from './agents.queries';
