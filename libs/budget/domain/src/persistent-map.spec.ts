import { PMap } from './persistent-map';

/** A deterministic pseudo-random sequence (xorshift32), so a failure reproduces. */
function random(seed: number) {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

describe('PMap', () => {
  it('behaves like a Map under random sets and deletes, and never changes an older version', () => {
    const next = random(42);
    let map = PMap.empty<number>();
    const model = new Map<string, number>();
    const snapshots: [PMap<number>, Map<string, number>][] = [];
    for (let i = 0; i < 20_000; i++) {
      const key = `k${Math.floor(next() * 3000)}`;
      if (next() < 0.35) {
        map = map.delete(key);
        model.delete(key);
      } else {
        map = map.set(key, i);
        model.set(key, i);
      }
      if (i % 2000 === 0) snapshots.push([map, new Map(model)]);
    }
    expect(map.size).toBe(model.size);
    for (const [k, v] of model) expect(map.get(k)).toBe(v);
    expect(new Map(map.entries())).toEqual(model);
    for (const [old, expected] of snapshots) {
      expect(old.size).toBe(expected.size);
      expect(new Map(old.entries())).toEqual(expected);
    }
  });

  it('keeps colliding keys apart (FNV-1a: "costarring" and "liquid" share a hash)', () => {
    const map = PMap.empty<number>().set('costarring', 1).set('liquid', 2).set('other', 3);
    expect([map.get('costarring'), map.get('liquid'), map.get('other')]).toEqual([1, 2, 3]);
    const without = map.delete('costarring');
    expect([without.get('costarring'), without.get('liquid'), without.size]).toEqual([undefined, 2, 2]);
    expect(map.set('liquid', 2)).toBe(map);
  });

  it('returns the same map for a no-op set or delete, and the empty map when the last key goes', () => {
    const one = PMap.empty<string>().set('a', 'x');
    expect(one.set('a', 'x')).toBe(one);
    expect(one.delete('b')).toBe(one);
    expect(one.delete('a')).toBe(PMap.empty());
    expect(PMap.of([['a', 1]]).has('a')).toBe(true);
  });
});
