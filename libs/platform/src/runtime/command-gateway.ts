import { Message } from '@warden/contracts';
import { conflict, Decider } from '@warden/kernel';
import { KafkaPort, RecordOut } from '../kafka/port';
import { inSpan } from '../observability/tracing';
import { Route, toRecord } from './publish';
import { Table } from './table';

/**
 * Handles commands that arrive over HTTP for an event-sourced aggregate whose events live on
 * a topic. It decides against the state folded by a stream table, publishes the events, then
 * waits until the table has read them back: the partition order is the arbiter, so if another
 * writer got a conflicting event in first, `evolve` rejects ours and the caller gets 409.
 * This gives read-your-writes with no database on the write path.
 */
export class CommandGateway<C, S, E extends Message> {
  constructor(
    private readonly decider: Decider<C, S, E>,
    private readonly table: Table<Map<string, S>>,
    private readonly port: KafkaPort,
    private readonly prefix: string,
    private readonly source: string,
    private readonly route: (event: E) => Route,
  ) {}

  state(stream: string): S {
    return this.table.state.get(stream) ?? this.decider.initialState;
  }

  async handle(
    stream: string,
    command: C,
    ids: { eventId: (n: number) => string; now: number },
  ): Promise<{ events: readonly E[]; state: S }> {
    await this.table.caughtUp();
    const events = this.decider.decide(command, this.state(stream));
    if (events.length === 0) return { events, state: this.state(stream) };
    const records = events.map((event, i) =>
      toRecord(this.prefix, this.source, ids.eventId(i), ids.now, event, this.route(event)),
    );
    // Records of one key share a partition: publish each key's records together, so the count
    // behind each returned base offset is known, then wait until the table has read them all.
    const groups = new Map<string, RecordOut[]>();
    for (const r of records)
      groups.set(`${r.topic}\u0000${r.key}`, [...(groups.get(`${r.topic}\u0000${r.key}`) ?? []), r]);
    const published = await inSpan('command publish', { 'warden.stream': stream }, async () => {
      const out: { topic: string; partition: number; last: number }[] = [];
      for (const group of groups.values()) {
        const [p] = await this.port.publish(group);
        out.push({ topic: p.topic, partition: p.partition, last: Number(p.baseOffset) + group.length - 1 });
      }
      return out;
    });
    for (const p of published) await this.table.waitFor(p.topic, p.partition, p.last);
    const lost = records.some((r) => this.table.wasRejected(r.headers['ce_id']));
    if (lost)
      throw conflict(
        'concurrent_modification',
        `stream ${stream} was changed concurrently; retry with the current version`,
      );
    return { events, state: this.state(stream) };
  }
}
