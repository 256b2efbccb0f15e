export * from './agent';
export * from './agent-profile';
export * from './agent-authority';
export * from './signing-keys';
export * from './tool-contract';
export * from './identity-links';
