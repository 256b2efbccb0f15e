import { randomUUID } from 'node:crypto';
import { KafkaPort, RecordIn } from '../kafka/port';

/**
 * Reads the given partitions of the given topics from their start up to the high watermark
 * seen when the read begins, in offset order per partition. Used to rebuild in-memory state.
 */
export async function readToEnd(
  port: KafkaPort,
  groupPrefix: string,
  topics: readonly string[],
  partitions: ReadonlySet<number> | 'all',
  onRecord: (record: RecordIn) => void,
): Promise<void> {
  const targets = new Map<string, number>();
  for (const topic of topics) {
    for (const wm of await port.watermarks(topic)) {
      if (partitions !== 'all' && !partitions.has(wm.partition)) continue;
      if (Number(wm.high) > Number(wm.low)) targets.set(`${topic}:${wm.partition}`, Number(wm.high));
    }
  }
  if (targets.size === 0) return;
  const groupId = `${groupPrefix}.read.${randomUUID()}`;
  let finish!: () => void;
  let fail!: (error: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const reached = new Set<string>();
  const seen = new Map<string, number>();
  const handle = await port.consume({
    groupId,
    topics,
    fromBeginning: true,
    commitOffsets: false,
    concurrency: 4,
    onCrash: fail,
    onBatch: async (topic, partition, records) => {
      const key = `${topic}:${partition}`;
      const target = targets.get(key);
      if (target === undefined || reached.has(key)) return records.at(-1)?.offset;
      for (const record of records) {
        const offset = Number(record.offset);
        if (offset >= target) break;
        // A rejoin restarts the ephemeral group from the beginning: hand each record over once.
        if (offset <= (seen.get(key) ?? -1)) continue;
        seen.set(key, offset);
        onRecord(record);
        if (offset >= target - 1) reached.add(key);
      }
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
