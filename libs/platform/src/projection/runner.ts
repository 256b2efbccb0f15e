import { decode, Envelope, EnvelopeError, TopicName } from '@warden/contracts';
import { DataSource } from 'typeorm';
import { AuthorityVerifier, forgedCode } from '../crypto/authority';
import { BatchControl, ConsumerHandle, KafkaPort, RecordIn, RecordOut } from '../kafka/port';
import { Logger } from '../observability/logger';
import { Metrics } from '../observability/metrics';
import { deadLetter } from '../runtime/dead-letter';
import { ConsumerStatus } from '../runtime/processor';
import { ProjectionDefinition, Row } from './projection';

/**
 * Runs one projection: Kafka -> Postgres. The rows of a batch and the next offset of its
 * partition are written in the same transaction, so a crash never applies an event twice.
 * Kafka offsets are not committed: Postgres holds the checkpoint. `rebuild()` truncates the
 * table and replays the topics from the beginning.
 */
export class ProjectionRunner<R extends Row = Row> {
  private handle: ConsumerHandle | undefined;
  private generation = 0;
  /** Next offset to apply per `topic:partition`, loaded from Postgres once per assignment. */
  private readonly cursors = new Map<string, { generation: number; next: number }>();
  private columns: string[] = [];
  private state: ConsumerStatus = 'starting';
  private readonly log: Logger;

  constructor(
    private readonly def: ProjectionDefinition<R>,
    private readonly deps: {
      readonly port: KafkaPort;
      readonly db: DataSource;
      readonly schema: string;
      readonly prefix: string;
      readonly logger: Logger;
      readonly metrics: Metrics;
      /** Refuses forged records of authority topics (docs/adr/0118): dead-lettered, not projected. */
      readonly authority?: AuthorityVerifier;
    },
  ) {
    this.log = deps.logger.child({ projection: def.name });
  }

  get name(): string {
    return this.def.name;
  }
  get status(): ConsumerStatus {
    return this.state;
  }
  get ready(): boolean {
    return this.state === 'running';
  }

  async start(): Promise<void> {
    const [schema, table] = this.def.table.split('.');
    const cols: { column_name: string }[] = await this.deps.db.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
      [schema, table],
    );
    if (cols.length === 0)
      throw new Error(`projection ${this.def.name}: table ${this.def.table} does not exist (run migrations)`);
    this.columns = cols.map((c) => c.column_name);
    this.generation += 1;
    this.cursors.clear();
    this.handle = await this.deps.port.consume({
      groupId: `${this.deps.prefix}${this.deps.schema}.projection.${this.def.name}`,
      topics: this.def.topics.map((t) => this.deps.prefix + t),
      fromBeginning: true,
      commitOffsets: false,
      concurrency: 4,
      // Projections are off the decision path: fewer, larger transactions leave the CPU to it.
      batching: { minBytes: 64 * 1024, maxWaitMs: 200 },
      onAssigned: () => {
        this.generation += 1;
        this.cursors.clear();
      },
      onCrash: (error) => {
        this.state = 'crashed';
        this.log.error('projection consumer crashed', { error });
      },
      onBatch: (topic, partition, records, control) => this.onBatch(topic, partition, records, control),
    });
    this.state = 'running';
  }

  async stop(): Promise<void> {
    await this.handle?.stop();
    this.handle = undefined;
    this.state = 'stopped';
  }

  /** Drops the projection's rows and checkpoints and replays its topics from the beginning. */
  async rebuild(): Promise<void> {
    await this.stop();
    await this.deps.db.transaction(async (tx) => {
      await tx.query(`TRUNCATE ${this.def.table}`);
      await tx.query(`DELETE FROM "${this.deps.schema}".projection_checkpoints WHERE projection = $1`, [this.def.name]);
    });
    this.log.info('projection truncated; replaying from the beginning');
    await this.start();
  }

  /** Resolves when the checkpoints have reached the topics' current end (for tests, rebuild and lag). */
  async lag(): Promise<number> {
    const rows: { topic: string; partition: number; next_offset: string }[] = await this.deps.db.query(
      `SELECT topic, partition, next_offset FROM "${this.deps.schema}".projection_checkpoints WHERE projection = $1`,
      [this.def.name],
    );
    const at = new Map(rows.map((r) => [`${r.topic}:${r.partition}`, Number(r.next_offset)]));
    let lag = 0;
    for (const t of this.def.topics) {
      const topic = this.deps.prefix + t;
      for (const wm of await this.deps.port.watermarks(topic)) {
        lag += Number(wm.high) - Math.max(at.get(`${topic}:${wm.partition}`) ?? 0, Number(wm.low));
      }
    }
    return lag;
  }

  private async onBatch(
    topic: string,
    partition: number,
    records: readonly RecordIn[],
    control: BatchControl,
  ): Promise<string | undefined> {
    const key = `${topic}:${partition}`;
    let cursor = this.cursors.get(key);
    if (!cursor || cursor.generation !== this.generation) {
      cursor = { generation: this.generation, next: (await this.checkpoint(topic, partition)) ?? -1 };
      this.cursors.set(key, cursor);
      if (cursor.next >= 0 && records.length > 0 && Number(records[0].offset) !== cursor.next) {
        control.seek(String(cursor.next));
        return undefined;
      }
    }
    const next = cursor.next;
    const fresh = records.filter((r) => Number(r.offset) >= next);
    if (fresh.length === 0) return records.at(-1)?.offset;
    const name = topic.slice(this.deps.prefix.length) as TopicName;
    const rejected: RecordOut[] = [];
    const consumer = `projection.${this.def.name}`;
    const events: { id: string; event: Envelope; record: RecordIn }[] = [];
    for (const record of fresh) {
      const verdict = this.deps.authority?.check(name, record);
      if (verdict && !verdict.ok) {
        rejected.push(
          deadLetter(this.deps.prefix, consumer, record, forgedCode(verdict.code), verdict.reason, Date.now()),
        );
        continue;
      }
      try {
        const event = decode(name, record);
        if (!this.def.handles.includes(event.type)) continue;
        const id = this.def.rowId(event);
        if (id !== undefined) events.push({ id, event, record });
      } catch (error) {
        const code = error instanceof EnvelopeError ? error.code : 'projection_error';
        rejected.push(deadLetter(this.deps.prefix, consumer, record, code, (error as Error).message, Date.now()));
      }
    }
    const ids = [...new Set(events.map((e) => e.id))];
    const lastOffset = Number(fresh.at(-1)!.offset);
    await this.deps.db.transaction(async (tx) => {
      // Rows and checkpoint commit together, so a commit lost in a crash is simply replayed
      // from the older checkpoint: no need to wait for the WAL flush.
      await tx.query(`SET LOCAL synchronous_commit = off`);
      const rows = new Map<string, R | null>();
      if (ids.length > 0) {
        // A row fed by several topics is also written by concurrent batches (other partitions,
        // other instances): lock its id, in a fixed order, before reading it, so no update is lost.
        await tx.query(
          `SELECT count(pg_advisory_xact_lock(k)) FROM
             (SELECT DISTINCT hashtextextended($1 || id, 0) AS k FROM unnest($2::text[]) AS id ORDER BY k) AS ordered`,
          [`${this.def.table}:`, ids],
        );
        const loaded: { row: R }[] = await tx.query(
          `SELECT to_jsonb(t) AS row FROM ${this.def.table} t WHERE id = ANY($1)`,
          [ids],
        );
        for (const { row } of loaded) rows.set(row.id, row);
      }
      for (const { id, event, record } of events) {
        try {
          rows.set(id, this.def.evolve(rows.get(id) ?? null, event));
        } catch (error) {
          // A projection bug or an event it cannot hold must not stop the partition.
          this.log.error('projection failed on an event; dead-lettering it', { offset: record.offset, error });
          rejected.push(
            deadLetter(this.deps.prefix, consumer, record, 'projection_error', (error as Error).message, Date.now()),
          );
        }
      }
      const upserts = [...rows.values()].filter((r): r is R => r !== null);
      const deletes = [...rows].filter(([, r]) => r === null).map(([id]) => id);
      if (upserts.length > 0) {
        const cols = this.columns.map((c) => `"${c}"`).join(', ');
        const updates = this.columns
          .filter((c) => c !== 'id')
          .map((c) => `"${c}" = EXCLUDED."${c}"`)
          .join(', ');
        await tx.query(
          `INSERT INTO ${this.def.table} (${cols}) SELECT ${cols} FROM jsonb_populate_recordset(NULL::${this.def.table}, $1::jsonb)
           ON CONFLICT (id) DO UPDATE SET ${updates}`,
          [withoutNul(JSON.stringify(upserts))],
        );
      }
      if (deletes.length > 0) await tx.query(`DELETE FROM ${this.def.table} WHERE id = ANY($1)`, [deletes]);
      await tx.query(
        `INSERT INTO "${this.deps.schema}".projection_checkpoints (projection, topic, partition, next_offset, updated_at)
         VALUES ($1, $2, $3, $4, now())
         ON CONFLICT (projection, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`,
        [this.def.name, topic, partition, lastOffset + 1],
      );
      // Dead letters go out before the commit: if publishing fails, the batch is retried whole.
      if (rejected.length > 0) await this.deps.port.publish(rejected);
    });
    if (rejected.length > 0) {
      this.deps.metrics.messages.inc({ consumer, topic: name, outcome: 'dead_lettered' }, rejected.length);
    }
    cursor.next = lastOffset + 1;
    this.deps.metrics.messages.inc({ consumer, topic: name, outcome: 'handled' }, fresh.length - rejected.length);
    return String(lastOffset);
  }

  private async checkpoint(topic: string, partition: number): Promise<number | undefined> {
    const rows: { next_offset: string }[] = await this.deps.db.query(
      `SELECT next_offset FROM "${this.deps.schema}".projection_checkpoints WHERE projection = $1 AND topic = $2 AND partition = $3`,
      [this.def.name, topic, partition],
    );
    return rows.length > 0 ? Number(rows[0].next_offset) : undefined;
  }
}

/**
 * Postgres text and jsonb cannot hold NUL characters: they are stored as U+FFFD. Done on the
 * JSON text (where NUL is always escaped as \u0000) rather than with a JSON.stringify replacer,
 * which takes the serializer off its fast path for every value of every row.
 */
export function withoutNul(json: string): string {
  if (!json.includes('\\u0000')) return json;
  // An escape only when the backslash is not itself escaped (an even run of backslashes before it).
  return json.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd');
}
