export * from './budget-definition';
export * from './run-budget';
