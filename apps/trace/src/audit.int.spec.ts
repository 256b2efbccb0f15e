import { eventually } from '@warden/platform/testing';
import { verifyCommand } from './cli';
import { gateChain, GateEvent, Identity, Path, TraceHarness } from './testing/trace.harness';

/**
 * The tamper-evident audit chain on the real broker and Postgres: every decision of a tenant
 * is linked into one chain, whatever partition its run is on; verification finds an altered,
 * missing or reordered record and says where.
 */
describe('audit chain (real Kafka and Postgres)', () => {
  let trace: TraceHarness;
  const auditor: Identity = { subject: 'ann', roles: 'auditor', tenant: 'acme' };
  const t = Date.UTC(2025, 5, 1);
  const paths: Path[] = ['allow', 'deny', 'approved', 'expired'];
  const decisionsOf = (events: GateEvent[]) => events.filter((e) => e.topic === 'gate.decisions').length;
  const events: GateEvent[] = [];
  for (let r = 0; r < 6; r++) {
    const run = { tenantId: r % 3 === 0 ? 'globex' : 'acme', agentId: 'bot', runId: `run-${r}` };
    for (let i = 0; i < 4; i++) events.push(...gateChain(run, `req-${r}-${i}`, t + r * 100 + i, paths[(r + i) % 4]));
  }
  const acmeDecisions = decisionsOf(events.filter((e) => e.run.tenantId === 'acme'));

  const verify = async (source = 'both') =>
    (await trace.call<Record<string, unknown>>('GET', `/audit/verify?source=${source}`, auditor)).body;
  const chainLength = async (tenant: string) =>
    (await trace.sql<{ n: number }>(`SELECT count(*)::int AS n FROM trace.audit WHERE tenant_id = '${tenant}'`))[0].n;

  beforeAll(async () => {
    trace = await TraceHarness.start('trace-audit');
    await trace.publish(events);
    await eventually(async () => (await chainLength('acme')) === acmeDecisions, 60_000, 'the acme chain');
    await trace.caughtUp();
  });
  afterAll(async () => {
    await trace.stop();
  });

  it('chains every decision of a tenant, across partitions, in one gapless sequence', async () => {
    expect(acmeDecisions).toBeGreaterThan(20);
    const chain = (
      await trace.call<{ seq: number; prevHash: string; hash: string; runId: string }[]>('GET', '/audit', auditor)
    ).body;
    expect(chain.map((l) => l.seq)).toEqual(Array.from({ length: acmeDecisions }, (_, i) => i + 1));
    expect(new Set(chain.map((l) => l.runId)).size).toBe(4);
    chain.forEach((l, i) => expect(l.prevHash).toBe(i === 0 ? '' : chain[i - 1].hash));
    expect(await chainLength('globex')).toBe(decisionsOf(events) - acmeDecisions);
    const page = (await trace.call<{ seq: number }[]>('GET', '/audit?fromSeq=3&limit=2', auditor)).body;
    expect(page.map((l) => l.seq)).toEqual([3, 4]);
    expect((await trace.call('GET', '/audit?fromSeq=0', auditor)).body).toMatchObject({ field: 'fromSeq' });
    expect(await verify()).toMatchObject({
      tenantId: 'acme',
      ok: true,
      postgres: { ok: true, records: acmeDecisions, head: { seq: acmeDecisions, hash: chain.at(-1)!.hash } },
      kafka: { ok: true, records: acmeDecisions },
      comparison: null,
    });
    expect((await trace.call('GET', '/audit/verify?source=nope', auditor)).body).toMatchObject({
      status: 400,
      field: 'source',
    });
    expect((await trace.call('GET', '/audit/verify', { ...auditor, roles: 'approver' })).status).toBe(403);
  });

  it('a restarted service continues each chain from its head, without gaps or repeats', async () => {
    await trace.stopService();
    await trace.startService();
    const more = gateChain({ tenantId: 'acme', agentId: 'bot', runId: 'run-9' }, 'req-9', t + 5000, 'allow');
    await trace.publish(more);
    await eventually(async () => (await chainLength('acme')) === acmeDecisions + 1, 60_000, 'the new link');
    await trace.caughtUp();
    expect(await verify()).toMatchObject({ ok: true, postgres: { head: { seq: acmeDecisions + 1 } } });
  });

  it('finds a record altered in Postgres, and where', async () => {
    await trace.sql(`UPDATE trace.audit SET verdict = 'allow', reason = 'fine' WHERE tenant_id = 'acme' AND seq = 3`);
    const report = await verify();
    const [altered] = await trace.sql<{ decision_id: string }>(
      `SELECT decision_id FROM trace.audit WHERE tenant_id = 'acme' AND seq = 3`,
    );
    expect(report).toMatchObject({
      ok: false,
      postgres: { ok: false, head: { seq: 2 }, problem: { kind: 'altered', seq: 3, decisionId: altered.decision_id } },
      kafka: { ok: true },
      comparison: { kind: 'diverged', seq: 3 },
    });
  });

  it('finds a missing and a reordered record', async () => {
    // Undo the alteration by a rebuild of the audit projection from Kafka: the chain is whole again.
    await trace.runtime.projection('audit').rebuild();
    await trace.caughtUp();
    expect(await verify()).toMatchObject({ ok: true });

    await trace.sql(`DELETE FROM trace.audit WHERE tenant_id = 'acme' AND seq = 5`);
    expect(await verify('postgres')).toMatchObject({
      ok: false,
      postgres: { problem: { kind: 'missing', seq: 5, detail: 'record 5 missing before 6' } },
    });

    await trace.runtime.projection('audit').rebuild();
    await trace.caughtUp();
    // Swap two records' positions: each then sits after a record it was not linked to.
    await trace.sql(`UPDATE trace.audit SET seq = -7 WHERE tenant_id = 'acme' AND seq = 7;
                     UPDATE trace.audit SET seq = 7 WHERE tenant_id = 'acme' AND seq = 8;
                     UPDATE trace.audit SET seq = 8 WHERE tenant_id = 'acme' AND seq = -7`);
    const swapped = await verify('postgres');
    expect(swapped).toMatchObject({ ok: false, postgres: { problem: { kind: 'altered', seq: 7 } } });
  });

  it('`trace verify --tenant X` reports the same and exits 2 on a broken chain, 0 on an intact one', async () => {
    const saved = { ...process.env };
    const out: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    try {
      Object.assign(process.env, trace.env, { LOG_LEVEL: 'error' });
      expect(await verifyCommand(['--tenant', 'acme', '--source', 'postgres'])).toBe(2);
      expect(JSON.parse(out.join(''))).toMatchObject({ ok: false, postgres: { problem: { seq: 7 } } });
      out.length = 0;
      expect(await verifyCommand(['--tenant', 'acme', '--source', 'kafka'])).toBe(0);
      expect(JSON.parse(out.join(''))).toMatchObject({ ok: true, kafka: { records: acmeDecisions + 1 } });
      const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
      expect(await verifyCommand(['--source', 'kafka'])).toBe(64);
      err.mockRestore();
    } finally {
      write.mockRestore();
      process.env = saved;
    }
  });
});
