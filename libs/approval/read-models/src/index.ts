export * from './standing.projection';
export * from './tasks.projection';
export * from './tasks.queries';
