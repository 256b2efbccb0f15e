export * from './budget.queries';
export * from './meters.json';
export * from './run-usage.projection';
export * from './step-costs.projection';
export * from './tenant-usage.projection';
