import { chunks } from './kafkajs-adapter';
import { RecordOut } from './port';

const record = (bytes: number, partition = 0): RecordOut => ({
  topic: 't',
  key: 'k',
  value: Buffer.alloc(bytes),
  headers: { h: 'v' },
  partition,
});

describe('produce request chunking', () => {
  it('keeps small batches whole', () => {
    expect(chunks([record(10), record(10)]).map((c) => c.length)).toEqual([2]);
    expect(chunks([])).toEqual([]);
  });

  it('splits by size so no request exceeds the limit, keeping order', () => {
    const records = Array.from({ length: 10 }, (_, i) => record(200_000, i));
    const out = chunks(records);
    expect(out.map((c) => c.length)).toEqual([2, 2, 2, 2, 2]);
    expect(out.flat().map((r) => r.partition)).toEqual(records.map((r) => r.partition));
  });

  it('splits by count, and sends an oversized single record alone', () => {
    expect(chunks(Array.from({ length: 2500 }, () => record(1))).map((c) => c.length)).toEqual([1000, 1000, 500]);
    expect(chunks([record(10), record(600_000), record(10)]).map((c) => c.length)).toEqual([1, 1, 1]);
  });
});
