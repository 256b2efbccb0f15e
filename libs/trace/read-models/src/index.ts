export * from './requests.projection';
export * from './requests.queries';
export * from './runs.projection';
export * from './runs.queries';
