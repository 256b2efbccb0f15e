/**
 * A domain error is a rule that a command broke. It is typed by `kind`, which the shells map
 * in one place each: to HTTP problem+json (see platform/http) and to Kafka outcomes
 * (dead-letter with the reason). `field` names the input at fault when there is one.
 */
export type DomainErrorKind = 'invalid' | 'not_found' | 'conflict' | 'forbidden' | 'unauthenticated';

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (code: string, message: string, field?: string) =>
  new DomainError('invalid', code, message, field);
export const notFound = (code: string, message: string) => new DomainError('not_found', code, message);
export const conflict = (code: string, message: string, field?: string) =>
  new DomainError('conflict', code, message, field);
export const forbidden = (code: string, message: string) => new DomainError('forbidden', code, message);
/** The caller did not prove who it is (no, a bad or an expired credential or token). */
export const unauthenticated = (code: string, message: string) => new DomainError('unauthenticated', code, message);
