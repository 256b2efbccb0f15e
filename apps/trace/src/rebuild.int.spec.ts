import {
  create,
  HoldKind,
  HoldPlacedSchema,
  KillSwitchEngagedSchema,
  KillSwitchReleasedSchema,
  ScopeSchema,
  Topic,
  topicName,
} from '@warden/contracts';
import { eventually } from '@warden/platform/testing';
import { requestsProjection } from '@warden/trace-read-models';
import { gateChain, GateEvent, Path, TraceHarness } from './testing/trace.harness';

/**
 * ARCHITECTURE invariant 1: Kafka is the source of truth. The projections hold only what the
 * events say, so replaying the topics (a rebuild, or dropping every table and restarting)
 * yields byte-identical tables.
 */
describe('trace projections rebuild identically from Kafka (real Kafka and Postgres)', () => {
  let trace: TraceHarness;
  const paths: Path[] = ['allow', 'deny', 'approved', 'expired', 'refused'];
  const runs = 8;
  const perRun = 16;
  const t = Date.UTC(2025, 5, 1);

  const events: GateEvent[] = [];
  for (let r = 0; r < runs; r++) {
    const run = { tenantId: r % 2 ? 'acme' : 'globex', agentId: `bot-${r % 3}`, runId: `run-${r}` };
    for (let i = 0; i < perRun; i++) {
      events.push(...gateChain(run, `req-${r}-${i}`, t + r * 1000 + i * 10, paths[(r + i) % paths.length]));
    }
  }

  const none = { tenantId: '', agentId: '', runId: '' };
  for (let k = 0; k < 4; k++) {
    const scope = create(ScopeSchema, { tenantId: 'acme', agentId: `bot-${k % 3}` });
    events.push({
      topic: Topic.killswitchEvents,
      key: `ks-${k}`,
      run: none,
      time: t + k,
      data: create(KillSwitchEngagedSchema, { switchId: `ks-${k}`, scope, engagedBy: 'sam', engagedAtMs: t + k }),
    });
    if (k % 2 === 0) {
      events.push({
        topic: Topic.killswitchEvents,
        key: `ks-${k}`,
        run: none,
        time: t + 500 + k,
        data: create(KillSwitchReleasedSchema, { switchId: `ks-${k}`, scope, releasedAtMs: t + 500 + k }),
      });
    }
    events.push({
      topic: Topic.traceHolds,
      key: 'acme',
      run: none,
      time: t + k,
      data: create(HoldPlacedSchema, {
        holdId: `hold-${k}`,
        tenantId: 'acme',
        runId: `run-${k}`,
        kind: HoldKind.LEGAL,
        reason: 'litigation',
        placedAtMs: t + k,
      }),
    });
  }
  const decisions = events.filter((e) => e.topic === Topic.gateDecisions).length;
  const tables = ['trace.requests', 'trace.runs', 'trace.audit', 'trace.kill_switches', 'trace.holds'];
  const checksums = async () =>
    Object.fromEntries(await Promise.all(tables.map(async (table) => [table, await trace.checksum(table)])));

  beforeAll(async () => {
    // A small memory bound, so bulk rebuilds write and load rows back several times: below the
    // rows any batch of the requests projection's topics touches here, so each batch is written.
    trace = await TraceHarness.start('trace-rebuild', {}, { TRACE_REBUILD_MAX_ROWS: '3' });
    // Publish topic by topic, approvals and decisions first and the budget stage's answers and
    // settlements last, so the live projection sees each chain out of order (its request first
    // from a less authoritative copy), and a replay (all topics at once) in some other interleaving.
    for (const topic of [...new Set(events.map((e) => e.topic))].reverse()) {
      await trace.publish(events.filter((e) => e.topic === topic));
    }
    await eventually(
      async () => (await trace.checksum('trace.audit')).rows === decisions,
      60_000,
      'every decision in the audit chain',
    );
    await trace.caughtUp();
  });
  afterAll(async () => {
    await trace.stop();
  });

  it('projects every request and run of a few hundred events', async () => {
    expect(events.length).toBeGreaterThan(500);
    const sums = await checksums();
    expect(sums['trace.requests'].rows).toBe(runs * perRun);
    expect(sums['trace.runs'].rows).toBe(runs);
    expect(sums['trace.kill_switches'].rows).toBe(4);
    expect(sums['trace.holds'].rows).toBe(4);
    const incomplete = await trace.sql<{ id: string }>(
      `SELECT id FROM trace.requests
        WHERE request_source <> 'budget.reservations' OR verdict IS NULL OR reservation_status IS NULL
           OR (verdict = 'allow') <> (outcome_status IS NOT NULL)
           OR (action IN ('approved', 'expired')) <> (approval_status IS NOT NULL)`,
    );
    expect(incomplete).toEqual([]);
    const counted = await trace.sql<{ requests: number; decided: number }>(
      `SELECT sum(requests)::int AS requests, sum(allowed + denied + expired)::int AS decided FROM trace.runs`,
    );
    expect(counted).toEqual([{ requests: runs * perRun, decided: runs * perRun }]);
  });

  it('a bulk rebuild (truncate, fold from Kafka, write each row once) gives the same checksums', async () => {
    const before = await checksums();
    const flushes: Record<string, number> = {};
    for (const runner of trace.projections.runners) {
      flushes[runner.name] = (await trace.projections.rebuildNow(runner.name)).flushes;
    }
    // Every batch read (at least one per topic-partition) leaves more rows in memory than the bound:
    // each is written, and later topics' batches load rows back; then the last flush.
    const batches = (
      await Promise.all(requestsProjection.topics.map((t) => trace.port.watermarks(topicName(trace.prefix, t))))
    )
      .flat()
      .filter((w) => Number(w.high) > Number(w.low)).length;
    expect(batches).toBeGreaterThanOrEqual(requestsProjection.topics.length);
    expect(flushes.requests).toBeGreaterThan(batches);
    expect(flushes.runs).toBeGreaterThan(1);
    await trace.caughtUp();
    expect(await checksums()).toEqual(before);
  });

  it("the runner's own rebuild (truncate, replay batch by batch) gives the same checksums", async () => {
    const before = await checksums();
    await Promise.all(trace.projections.runners.map((r) => r.rebuild()));
    await trace.caughtUp();
    expect(await checksums()).toEqual(before);
  });

  it('dropping every table and restarting gives the same checksums', async () => {
    const before = await checksums();
    await trace.stopService();
    await trace.sql('DROP SCHEMA trace CASCADE');
    await trace.startService();
    await trace.caughtUp();
    expect(await checksums()).toEqual(before);
  });
});
