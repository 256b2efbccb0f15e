export * from './client';
export * from './agent-token';
export { newProofKey, type ProofKey } from '@warden/contracts';
export * from './tool-verifier';
