import { randomUUID } from 'node:crypto';
import { CE, decode, TopicName } from '@warden/contracts';
import {
  CopyColumn,
  copyRows,
  ProjectionDefinition,
  ProjectionRunner,
  Row,
  ServiceRuntime,
  withoutNul,
} from '@warden/platform';
import { DataSource, EntityManager } from 'typeorm';

export interface BulkRebuilt {
  readonly events: number;
  readonly rows: number;
  readonly skipped: number;
  readonly flushes: number;
}

/**
 * Rebuilds a projection from Kafka in bulk (docs/adr/0064): the runner is stopped, the table
 * and its checkpoints emptied, then the topics are read up to the end seen at the start and
 * folded in memory with the projection's own `evolve` (`evolveInPlace` where it has one: the
 * rows are the rebuild's own), and each row is written once, with COPY unless it was written
 * before (the live runner reads and writes a row for every batch of every topic that touches
 * it, five times for a gate request). When more than `maxRows` rows are in memory they are
 * written with the checkpoints of what was read so far, in one transaction, and a row met again
 * is loaded back; so a crash or an error mid-way leaves a table the runner simply continues.
 * The runner then starts from the checkpoints, after an error too. Records of types the
 * projection does not handle are not decoded; records that do not decode were dead-lettered by
 * the live runner already: here they are counted and skipped. An event `evolveInPlace` throws
 * on may have left its row half changed, so it ends the rebuild: the runner takes over from
 * the last write (and dead-letters the event).
 */
export async function bulkRebuild<R extends Row>(
  runtime: ServiceRuntime,
  runner: ProjectionRunner<R>,
  def: ProjectionDefinition<R>,
  options: { readonly schema: string; readonly maxRows: number },
): Promise<BulkRebuilt> {
  await runner.stop();
  try {
    return await rebuildStopped(runtime, def, options);
  } finally {
    // Whatever happened, the runner continues from the checkpoints written with the rows.
    await runner.start();
  }
}

async function rebuildStopped<R extends Row>(
  runtime: ServiceRuntime,
  def: ProjectionDefinition<R>,
  options: { readonly schema: string; readonly maxRows: number },
): Promise<BulkRebuilt> {
  const { port, prefix, db } = runtime;
  const log = runtime.logger.child({ projection: def.name, rebuild: 'bulk' });
  await db.transaction(async (tx) => {
    await tx.query(`TRUNCATE ${def.table}`);
    await tx.query(`DELETE FROM "${options.schema}".projection_checkpoints WHERE projection = $1`, [def.name]);
  });
  const topics = new Map(def.topics.map((t) => [prefix + t, t]));
  const targets = new Map<string, number>();
  for (const topic of topics.keys()) {
    for (const wm of await port.watermarks(topic)) {
      if (Number(wm.high) > Number(wm.low)) targets.set(`${topic}:${wm.partition}`, Number(wm.high));
    }
  }
  const rows = new Map<string, R | null>();
  const flushed = new Set<string>();
  const positions = new Map<string, number>();
  const result = { events: 0, rows: 0, skipped: 0, flushes: 0 };
  const columns = await columnsOf(db, def.table);
  // The rows in memory are this rebuild's own (created here or loaded back), so they may change in place.
  const evolve = def.evolveInPlace ?? def.evolve;
  const handles = new Set(def.handles);

  const flush = async () => {
    // Rows not written since the truncate are not in the table: they go in with COPY.
    const fresh: R[] = [];
    const upserts: R[] = [];
    const deletes: string[] = [];
    for (const [id, row] of rows) {
      if (row === null) deletes.push(id);
      else (flushed.has(id) ? upserts : fresh).push(row);
    }
    await db.transaction(async (tx) => {
      await tx.query(`SET LOCAL synchronous_commit = off`);
      if (fresh.length > 0 && !(await copied(tx, def.table, columns, fresh))) upserts.push(...fresh);
      const names = columns.map((c) => c.name);
      for (let i = 0; i < upserts.length; i += 5000) await upsert(tx, def.table, names, upserts.slice(i, i + 5000));
      if (deletes.length > 0) await tx.query(`DELETE FROM ${def.table} WHERE id = ANY($1)`, [deletes]);
      for (const [key, next] of positions) {
        const cut = key.lastIndexOf(':');
        await tx.query(
          `INSERT INTO "${options.schema}".projection_checkpoints (projection, topic, partition, next_offset, updated_at)
           VALUES ($1, $2, $3, $4, now())
           ON CONFLICT (projection, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`,
          [def.name, key.slice(0, cut), Number(key.slice(cut + 1)), next],
        );
      }
    });
    for (const id of rows.keys()) flushed.add(id);
    result.rows += fresh.length + upserts.length;
    result.flushes += 1;
    rows.clear();
  };

  if (targets.size > 0) {
    const groupId = `${prefix}${options.schema}.rebuild.${def.name}.${randomUUID().slice(0, 8)}`;
    let finish!: () => void;
    let fail!: (error: Error) => void;
    const done = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    const reached = new Set<string>();
    const handle = await port.consume({
      groupId,
      topics: [...topics.keys()],
      fromBeginning: true,
      commitOffsets: false,
      // One batch at a time: batches share the rows in memory and the flushes.
      concurrency: 1,
      batching: { minBytes: 1024 * 1024, maxWaitMs: 100 },
      onCrash: fail,
      onBatch: async (topic, partition, records) => {
        const key = `${topic}:${partition}`;
        const target = targets.get(key);
        const from = positions.get(key) ?? 0;
        if (target === undefined || reached.has(key)) return records.at(-1)?.offset;
        const name = topics.get(topic) as TopicName;
        const events = [];
        let next = from;
        for (const record of records) {
          const offset = Number(record.offset);
          if (offset >= target) break;
          next = offset + 1;
          // A rejoin restarts this ephemeral group from the beginning: apply each record once.
          if (offset < from) continue;
          result.events += 1;
          // Only what the projection handles is decoded; the type is in a header.
          if (!handles.has(record.headers[CE.type])) continue;
          try {
            const event = decode(name, record);
            const id = def.rowId(event);
            if (id !== undefined) events.push({ id, event });
          } catch {
            result.skipped += 1;
          }
        }
        const missing =
          flushed.size === 0
            ? []
            : [...new Set(events.map((e) => e.id))].filter((id) => !rows.has(id) && flushed.has(id));
        if (missing.length > 0) {
          const loaded: { row: R }[] = await db.query(
            `SELECT to_jsonb(t) AS row FROM ${def.table} t WHERE id = ANY($1)`,
            [missing],
          );
          for (const { row } of loaded) rows.set(row.id, row);
        }
        for (const { id, event } of events) {
          try {
            rows.set(id, evolve(rows.get(id) ?? null, event));
          } catch (error) {
            if (def.evolveInPlace) {
              // The row may be half changed: stop here, and let the runner continue from the last write.
              fail(
                new Error(`evolve failed on ${topic}:${partition} during a bulk rebuild: ${(error as Error).message}`),
              );
              return undefined;
            }
            result.skipped += 1;
            log.warn('evolve failed on an event during a bulk rebuild; skipping it', { topic, partition, error });
          }
        }
        positions.set(key, next);
        if (next >= target) reached.add(key);
        if (rows.size >= options.maxRows) await flush();
        if (reached.size === targets.size) finish();
        return records.at(-1)?.offset;
      },
    });
    try {
      await done;
    } finally {
      await handle.stop();
      await port.deleteGroups([groupId]);
    }
  }
  await flush();
  log.info('projection rebuilt in bulk', result);
  return result;
}

/**
 * COPYs rows the rebuild has not written, or returns false (and nothing is written) when one is
 * in the table after all: nothing else should write it during a rebuild, but if another instance
 * did, its rows are upserted as they were before COPY was used.
 */
async function copied(tx: EntityManager, table: string, columns: readonly CopyColumn[], rows: readonly Row[]) {
  await tx.query('SAVEPOINT copy_rows');
  try {
    await copyRows(tx, table, columns, rows);
  } catch (error) {
    if ((error as { code?: string }).code !== UNIQUE_VIOLATION) throw error;
    await tx.query('ROLLBACK TO SAVEPOINT copy_rows');
    return false;
  }
  await tx.query('RELEASE SAVEPOINT copy_rows');
  return true;
}

const UNIQUE_VIOLATION = '23505';

const JSON_TYPES = new Set(['json', 'jsonb']);
const TEXT_TYPES = new Set(['text', 'character varying', 'character']);

async function columnsOf(db: DataSource, table: string): Promise<CopyColumn[]> {
  const [schema, name] = table.split('.');
  const cols: { column_name: string; data_type: string }[] = await db.query(
    `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
    [schema, name],
  );
  return cols.map((c) => ({
    name: c.column_name,
    kind: JSON_TYPES.has(c.data_type) ? 'json' : TEXT_TYPES.has(c.data_type) ? 'text' : 'other',
  }));
}

async function upsert(tx: EntityManager, table: string, columns: readonly string[], rows: readonly Row[]) {
  const cols = columns.map((c) => `"${c}"`).join(', ');
  const updates = columns
    .filter((c) => c !== 'id')
    .map((c) => `"${c}" = EXCLUDED."${c}"`)
    .join(', ');
  await tx.query(
    `INSERT INTO ${table} (${cols}) SELECT ${cols} FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb)
     ON CONFLICT (id) DO UPDATE SET ${updates}`,
    [withoutNul(JSON.stringify(rows))],
  );
}
