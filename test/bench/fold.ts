/**
 * Micro-benchmark of a bulk rebuild's work in the trace process, without a broker or Postgres
 * (not part of `npm run bench`; docs/benchmarks.md): the projection bench's gate chains, encoded
 * as Kafka record batches, decoded by kafkajs' own fetch decoder, turned into records as the
 * adapter does, decoded into envelopes, folded into rows and encoded for COPY.
 *
 *   npm run build && FOLD_MODE=all FOLD_PROJECTION=requests node dist/test/bench/fold.js
 *
 * FOLD_MODE stops after a stage: kafka | headers | decode | all. FOLD_PROJECTION: requests, runs
 * or both (comma-separated). FOLD_PURE=1 folds with `evolve` instead of `evolveInPlace`.
 * FOLD_REQUESTS (40000) gate chains, FOLD_ROUNDS (4) rounds; prints wall and CPU time per event.
 */
import { decode, TopicName } from '@warden/contracts';
import { copyText, ProjectionDefinition, RecordIn, Row } from '@warden/platform';
import { requestsProjection, runsProjection } from '@warden/trace-read-models';
import { chains } from './projection';

const JSON_COLUMNS = new Set([
  'request',
  'reservation',
  'settlement',
  'decision',
  'approval',
  'outcome',
  'request_states',
]);

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Record = require('kafkajs/src/protocol/recordBatch/record/v0');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Encoder = require('kafkajs/src/protocol/encoder');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Decoder = require('kafkajs/src/protocol/decoder');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const decodeMessages = require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages');

const prefix = 'm.';
const requests = Number(process.env.FOLD_REQUESTS ?? 40000);
const mode = process.env.FOLD_MODE ?? 'all';
const which = (process.env.FOLD_PROJECTION ?? 'requests').split(',');

/** A copy of the kafkajs adapter's own conversion of headers. */
function headersOf(headers: Record<string, Buffer | string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const v = Array.isArray(value) ? value[value.length - 1] : value;
    out[name] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
  return out;
}

async function main() {
  const all = chains(prefix, requests);
  const defs = [requestsProjection, runsProjection].filter((d) =>
    which.includes(d.name),
  ) as unknown as ProjectionDefinition<Row>[];
  const evolve = defs.map((d) => (process.env.FOLD_PURE ? d.evolve : (d.evolveInPlace ?? d.evolve)));
  const topics = new Set(defs.flatMap((d) => d.topics.map((t) => prefix + t)));
  const records = all.filter((r) => topics.has(r.topic));
  // Kafka-encoded batches of up to 500 records per topic, in publish order.
  const byTopic = new Map<string, typeof records>();
  for (const r of records)
    byTopic
      .set(r.topic, byTopic.get(r.topic) ?? [])
      .get(r.topic)!
      .push(r);
  const wire: { topic: string; buffer: Buffer }[] = [];
  for (const [topic, list] of byTopic) {
    for (let i = 0; i < list.length; i += 500) {
      const part = list.slice(i, i + 500);
      const batch = await RecordBatch({
        firstOffset: String(i),
        lastOffsetDelta: part.length - 1,
        records: part.map((r, j) =>
          Record({ offsetDelta: j, key: Buffer.from(r.key), value: r.value, headers: r.headers }),
        ),
      });
      const body = batch.buffer as Buffer;
      wire.push({ topic, buffer: new Encoder().writeInt32(body.length).writeBuffer(body).buffer });
    }
  }
  // Topics interleaved as a consumer reads them: a batch of each in turn.
  const queues = [...new Set(wire.map((w) => w.topic))].map((t) => wire.filter((w) => w.topic === t));
  const order: typeof wire = [];
  while (queues.some((q) => q.length > 0)) for (const q of queues) if (q.length > 0) order.push(q.shift()!);

  const round = async () => {
    const rows = defs.map(() => new Map<string, Row | null>());
    let events = 0;
    for (const { topic, buffer } of order) {
      const messages = await decodeMessages(new Decoder(buffer));
      if (mode === 'kafka') {
        events += messages.length;
        continue;
      }
      const recs: RecordIn[] = messages.map(
        (m: { offset: string; key: Buffer; value: Buffer; headers: Record<string, Buffer>; timestamp: string }) => ({
          topic,
          partition: 0,
          offset: m.offset,
          key: m.key ? m.key.toString('utf8') : null,
          value: m.value,
          headers: headersOf(m.headers),
          timestamp: m.timestamp,
        }),
      );
      if (mode === 'headers') {
        events += recs.length;
        continue;
      }
      defs.forEach((def, d) => {
        if (!def.topics.some((t) => prefix + t === topic)) return;
        const name = topic.slice(prefix.length) as TopicName;
        for (const record of recs) {
          events += 1;
          const event = decode(name, record);
          if (mode === 'decode') continue;
          if (!def.handles.includes(event.type)) continue;
          const id = def.rowId(event);
          if (id === undefined) continue;
          rows[d].set(id, evolve[d](rows[d].get(id) ?? null, event));
        }
      });
    }
    let bytes = 0;
    if (mode === 'all') {
      for (const r of rows) {
        const names = Object.keys([...r.values()][0] ?? {});
        const columns = names.map((name) => ({
          name,
          kind: JSON_COLUMNS.has(name) ? ('json' as const) : ('other' as const),
        }));
        for (const piece of copyText(columns, [...r.values()] as Row[])) bytes += piece.length;
      }
    }
    return { events, bytes };
  };
  for (let i = 0; i < Number(process.env.FOLD_ROUNDS ?? 4); i++) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    const { events, bytes } = await round();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    console.log(
      `${mode} ${which.join('+')}: ${events} events in ${s.toFixed(2)} s = ${Math.round(events / s)} events/s; ` +
        `${cpu.toFixed(2)} s CPU = ${((cpu / events) * 1e6).toFixed(1)} us/event (${bytes} bytes written)`,
    );
  }
}

void main();
