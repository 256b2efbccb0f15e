export * from './bootstrap';
export * from './platform.controllers';
export * from './problem.filter';
export * from './transport';
export * from './actor';
export * from './main';
