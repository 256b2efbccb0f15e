import { jwkThumbprint, newProofKey, ProofKey } from '@warden/contracts';
import { AuthenticatedAgent } from './gate-request';

/** For the specs: an agent authenticated with a token bound to `key` (the token itself is not checked here). */
export function testAgent(key: ProofKey = newProofKey(), tenant = 'acme', sub = 'bot'): AuthenticatedAgent {
  const jkt = jwkThumbprint(key.jwk);
  return {
    token: `eyJ.${tenant}.${sub}`,
    jkt,
    claims: { iss: 'registry', aud: 'warden', sub, tenant, cid: 'c1', iat: 0, exp: 0, jti: 'j', cnf: { jkt } },
  };
}
