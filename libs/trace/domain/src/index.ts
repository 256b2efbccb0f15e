export * from './audit/chain';
export * from './audit/verify';
export * from './holds';
export * from './run-filter';
export * from './verdicts';
export * from './replay/evaluator';
export * from './replay/verification';
export * from './otel/gen-ai-span';
