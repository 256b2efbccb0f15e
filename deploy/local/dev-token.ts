import { parseArgs } from 'node:util';
import { ROLE_MEANINGS, ROLES } from '@warden/kernel';
import { DEV_KEY_ENCRYPTION_KEY, devAuthEnv, devToken } from '@warden/platform';

const USAGE = `usage: dev-token --sub <subject> --roles <role>[,<role>...] [--tenant <tenant>] [--email <address>] [--ttl <seconds>]
       dev-token --env

Mints an admin-API bearer token from the development issuer (ADR 0010), for local use only:
  curl -H "authorization: Bearer $(node dist/deploy/local/dev-token.js --sub alice --roles admin --tenant acme)" \\
    http://127.0.0.1:7101/agents
--env prints, as shell exports, the configuration that makes a service started alone trust it (and
the development key-encryption key, unless WARDEN_KEY_ENCRYPTION_KEY is set):
  eval "$(node dist/deploy/local/dev-token.js --env)"

--email adds the OIDC email claim (separation of duties compares it with requesters and owners).
--ttl defaults to 3600 seconds. Roles (README, "Roles"):
${ROLES.map((role) => `  ${role.padEnd(16)}${ROLE_MEANINGS[role]}`).join('\n')}
`;

function fail(message: string): never {
  process.stderr.write(`dev-token: ${message}\n${USAGE}`);
  process.exit(64);
}

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        sub: { type: 'string' },
        roles: { type: 'string', default: '' },
        tenant: { type: 'string', default: '' },
        email: { type: 'string', default: '' },
        ttl: { type: 'string', default: '3600' },
        env: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    return fail((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.env) {
    for (const [name, value] of Object.entries(devAuthEnv())) process.stdout.write(`export ${name}='${value}'\n`);
    // Services that sign or verify authority events need a KEK (docs/adr/0118): the development one, unless set.
    process.stdout.write(
      `export WARDEN_KEY_ENCRYPTION_KEY="\${WARDEN_KEY_ENCRYPTION_KEY:-${DEV_KEY_ENCRYPTION_KEY}}"\n`,
    );
    return;
  }
  const roles = values.roles.split(',').filter(Boolean);
  const unknown = roles.find((r) => !(ROLES as readonly string[]).includes(r));
  const ttl = Number(values.ttl);
  if (!values.sub) fail('--sub is required');
  if (unknown !== undefined) fail(`unknown role ${unknown}`);
  if (values.email !== '' && !/^[^\s@]+@[^\s@]+$/.test(values.email))
    fail(`--email must be an e-mail address, got ${values.email}`);
  if (!Number.isInteger(ttl) || ttl <= 0) fail(`--ttl must be a positive number of seconds, got ${values.ttl}`);
  void devToken({
    subject: values.sub,
    roles,
    tenant: values.tenant,
    email: values.email || undefined,
    ttlSeconds: ttl,
  }).then((token) => process.stdout.write(`${token}\n`));
}

main();
