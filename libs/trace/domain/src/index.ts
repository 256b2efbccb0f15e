export * from './access';
export * from './run-filter';
export * from './verdicts';
