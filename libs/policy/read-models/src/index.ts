export * from './decisions.projection';
export * from './decisions.queries';
export * from './bundles.projection';
export * from './bundles.queries';
