import { configOrExit } from '@warden/platform';
import { VERIFY_SOURCES, verifyAudit, VerifySource } from './audit/verify.service';
import { readTraceConfig } from './config';
import { traceService } from './service';

const USAGE = `usage: trace verify --tenant <tenant id> [--source postgres|kafka|both]\n`;

/**
 * `trace verify --tenant X`: verifies the tenant's audit chain and prints the report as JSON.
 * Exit 0 when intact, 2 when a record is altered, missing or reordered, 1 when it cannot
 * verify (no database schema, Kafka unreachable), 64 on bad usage.
 */
export async function verifyCommand(args: readonly string[]): Promise<number> {
  const flag = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const tenant = flag('tenant');
  const source = (flag('source') ?? 'both') as VerifySource;
  if (!tenant || !VERIFY_SOURCES.includes(source)) {
    process.stderr.write(USAGE);
    return 64;
  }
  const config = configOrExit(() => readTraceConfig());
  const { runtime } = traceService(config);
  try {
    await runtime.db.initialize();
    if (source !== 'kafka') {
      const [{ table }] = await runtime.db.query(`SELECT to_regclass('trace.audit') AS table`);
      if (table === null) {
        process.stderr.write(`trace verify: no trace.audit table in this database; run \`trace migrate\` first\n`);
        return 1;
      }
    }
    await runtime.port.connect();
    const report = await verifyAudit(runtime, tenant, source);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return report.ok ? 0 : 2;
  } finally {
    await runtime.port.close();
    if (runtime.db.isInitialized) await runtime.db.destroy();
  }
}
