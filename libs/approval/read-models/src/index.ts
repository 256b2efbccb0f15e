export * from './tasks.projection';
export * from './tasks.queries';
