import { murmur2, partitionOf } from './partitioning';

describe('murmur2 (Kafka default partitioner)', () => {
  // The vectors of Kafka's own UtilsTest.testMurmur2.
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('hashes %s like the Java client', (key, hash) => {
    expect(murmur2(Buffer.from(key))).toBe(hash);
  });

  it('maps a key to a partition in range, the same every time', () => {
    for (const n of [1, 3, 6, 12]) {
      const p = partitionOf('run-42', n);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(n);
      expect(partitionOf('run-42', n)).toBe(p);
    }
  });
});
