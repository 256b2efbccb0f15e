export * from './run-usage.projection';
export * from './run-usage.queries';
