export * from './decisions.projection';
export * from './decisions.queries';
