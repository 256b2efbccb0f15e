/**
 * An immutable map from strings to values (a hash array mapped trie): `set` and `delete` return a
 * new map sharing all but O(log32 n) nodes with the old one. Budget state lives for a whole tenant
 * or run and changes with every event; copying a native Map per event would cost O(n) each time.
 */
const BITS = 5;
const MASK = (1 << BITS) - 1;

interface Leaf<V> {
  readonly kind: 'leaf';
  readonly hash: number;
  readonly key: string;
  readonly value: V;
}
interface Collision<V> {
  readonly kind: 'collision';
  readonly hash: number;
  readonly leaves: readonly Leaf<V>[];
}
interface Branch<V> {
  readonly kind: 'branch';
  readonly bitmap: number;
  readonly children: readonly Node<V>[];
}
type Node<V> = Leaf<V> | Collision<V> | Branch<V>;

/** FNV-1a, 32 bits. */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function popcount(x: number): number {
  let n = x - ((x >>> 1) & 0x55555555);
  n = (n & 0x33333333) + ((n >>> 2) & 0x33333333);
  return (((n + (n >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

const fragment = (hash: number, shift: number) => (hash >>> shift) & MASK;
const EMPTY_BRANCH: Branch<never> = { kind: 'branch', bitmap: 0, children: [] };

function lookup<V>(node: Node<V>, hash: number, key: string, shift: number): Leaf<V> | undefined {
  switch (node.kind) {
    case 'leaf':
      return node.key === key ? node : undefined;
    case 'collision':
      return node.hash === hash ? node.leaves.find((l) => l.key === key) : undefined;
    case 'branch': {
      const bit = 1 << fragment(hash, shift);
      if ((node.bitmap & bit) === 0) return undefined;
      return lookup(node.children[popcount(node.bitmap & (bit - 1))], hash, key, shift + BITS);
    }
  }
}

/** A node holding two leaves that differ below `shift`. */
function pair<V>(a: Leaf<V>, b: Leaf<V>, shift: number): Node<V> {
  if (a.hash === b.hash) return { kind: 'collision', hash: a.hash, leaves: [a, b] };
  const fa = fragment(a.hash, shift);
  const fb = fragment(b.hash, shift);
  if (fa === fb) return { kind: 'branch', bitmap: 1 << fa, children: [pair(a, b, shift + BITS)] };
  return { kind: 'branch', bitmap: (1 << fa) | (1 << fb), children: fa < fb ? [a, b] : [b, a] };
}

/** The node with `leaf` set; `added` tells whether the key is new. */
function insert<V>(node: Node<V>, leaf: Leaf<V>, shift: number, added: { value: boolean }): Node<V> {
  switch (node.kind) {
    case 'leaf':
      if (node.key === leaf.key) return node.value === leaf.value ? node : leaf;
      added.value = true;
      return pair(node, leaf, shift);
    case 'collision': {
      if (node.hash !== leaf.hash) {
        const wrapped: Branch<V> = { kind: 'branch', bitmap: 1 << fragment(node.hash, shift), children: [node] };
        return insert(wrapped, leaf, shift, added);
      }
      const i = node.leaves.findIndex((l) => l.key === leaf.key);
      if (i < 0) {
        added.value = true;
        return { ...node, leaves: [...node.leaves, leaf] };
      }
      if (node.leaves[i].value === leaf.value) return node;
      const leaves = node.leaves.slice();
      leaves[i] = leaf;
      return { ...node, leaves };
    }
    case 'branch': {
      const bit = 1 << fragment(leaf.hash, shift);
      const at = popcount(node.bitmap & (bit - 1));
      const children = node.children.slice();
      if ((node.bitmap & bit) === 0) {
        added.value = true;
        children.splice(at, 0, leaf);
        return { kind: 'branch', bitmap: node.bitmap | bit, children };
      }
      const child = insert(node.children[at], leaf, shift + BITS, added);
      if (child === node.children[at]) return node;
      children[at] = child;
      return { kind: 'branch', bitmap: node.bitmap, children };
    }
  }
}

/** The node without `key`, undefined when it becomes empty, the same node when the key is absent. */
function remove<V>(node: Node<V>, hash: number, key: string, shift: number): Node<V> | undefined {
  switch (node.kind) {
    case 'leaf':
      return node.key === key ? undefined : node;
    case 'collision': {
      if (node.hash !== hash) return node;
      const leaves = node.leaves.filter((l) => l.key !== key);
      if (leaves.length === node.leaves.length) return node;
      return leaves.length === 1 ? leaves[0] : { ...node, leaves };
    }
    case 'branch': {
      const bit = 1 << fragment(hash, shift);
      if ((node.bitmap & bit) === 0) return node;
      const at = popcount(node.bitmap & (bit - 1));
      const child = remove(node.children[at], hash, key, shift + BITS);
      if (child === node.children[at]) return node;
      const children = node.children.slice();
      if (child === undefined) {
        children.splice(at, 1);
        const bitmap = node.bitmap & ~bit;
        if (bitmap === 0) return undefined;
        // A branch left with one leaf collapses into it (not at the root, which stays a branch).
        if (children.length === 1 && children[0].kind !== 'branch' && shift > 0) return children[0];
        return { kind: 'branch', bitmap, children };
      }
      children[at] = child;
      return { kind: 'branch', bitmap: node.bitmap, children };
    }
  }
}

function* walk<V>(node: Node<V>): Generator<Leaf<V>> {
  switch (node.kind) {
    case 'leaf':
      yield node;
      return;
    case 'collision':
      yield* node.leaves;
      return;
    case 'branch':
      for (const child of node.children) yield* walk(child);
  }
}

export class PMap<V> {
  private static readonly EMPTY = new PMap<never>(EMPTY_BRANCH, 0);

  private constructor(
    private readonly root: Branch<V>,
    readonly size: number,
  ) {}

  static empty<V>(): PMap<V> {
    return PMap.EMPTY as PMap<V>;
  }

  static of<V>(entries: Iterable<readonly [string, V]>): PMap<V> {
    let map = PMap.empty<V>();
    for (const [k, v] of entries) map = map.set(k, v);
    return map;
  }

  get(key: string): V | undefined {
    return lookup(this.root, hashOf(key), key, 0)?.value;
  }

  has(key: string): boolean {
    return lookup(this.root, hashOf(key), key, 0) !== undefined;
  }

  set(key: string, value: V): PMap<V> {
    const added = { value: false };
    const root = insert(this.root, { kind: 'leaf', hash: hashOf(key), key, value }, 0, added) as Branch<V>;
    return root === this.root ? this : new PMap(root, this.size + (added.value ? 1 : 0));
  }

  delete(key: string): PMap<V> {
    const root = remove(this.root, hashOf(key), key, 0) as Branch<V> | undefined;
    if (root === this.root) return this;
    return root === undefined ? PMap.empty() : new PMap(root, this.size - 1);
  }

  /** Entries in no particular (but a stable) order. */
  *entries(): Generator<[string, V]> {
    for (const leaf of walk(this.root)) yield [leaf.key, leaf.value];
  }

  *values(): Generator<V> {
    for (const leaf of walk(this.root)) yield leaf.value;
  }
}
