export * from './switches.projection';
export * from './switches.queries';
