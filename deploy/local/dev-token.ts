import { parseArgs } from 'node:util';
import { devAuthEnv, devToken, ROLES } from '@warden/platform';

/**
 * Mints an admin-API bearer token from the development issuer (ADR 0010), for local use:
 *   node dist/deploy/local/dev-token.js --sub alice --roles admin,sre --tenant acme [--ttl 3600]
 *   curl -H "authorization: Bearer $(node dist/deploy/local/dev-token.js ...)" http://127.0.0.1:7101/agents
 * Services trust it only when configured with its JWKS (the local stack does this);
 *   eval "$(node dist/deploy/local/dev-token.js --env)"
 * prints that configuration as shell exports, for running a service alone.
 */
function main(): void {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      roles: { type: 'string', default: '' },
      tenant: { type: 'string', default: '' },
      ttl: { type: 'string', default: '3600' },
      env: { type: 'boolean', default: false },
    },
  });
  if (values.env) {
    for (const [name, value] of Object.entries(devAuthEnv())) process.stdout.write(`export ${name}='${value}'\n`);
    return;
  }
  const roles = (values.roles ?? '').split(',').filter(Boolean);
  const unknown = roles.find((r) => !ROLES.includes(r));
  const ttl = Number(values.ttl);
  if (!values.sub || unknown !== undefined || !Number.isInteger(ttl) || ttl <= 0) {
    process.stderr.write(
      `usage: dev-token --sub <subject> --roles <${ROLES.join('|')}>[,...] --tenant <tenant> [--ttl <seconds>]\n`,
    );
    process.exit(64);
  }
  void devToken({ subject: values.sub, roles, tenant: values.tenant ?? '', ttlSeconds: ttl }).then((token) =>
    process.stdout.write(`${token}\n`),
  );
}

main();
