export * from './delivery';
export * from './reactor';
export * from './signature';
