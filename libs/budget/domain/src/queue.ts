import { PMap } from './persistent-map';

/**
 * A first-in, first-out queue of ids with removal from anywhere, persistent like PMap. Holds that
 * expire after the same duration expire in the order they were queued, so a sweep only ever looks
 * at the head.
 */
export interface Queue {
  readonly items: PMap<string>;
  /** The sequence number of the oldest item (or `next` when empty). */
  readonly head: number;
  readonly next: number;
}

export const EMPTY_QUEUE: Queue = { items: PMap.empty(), head: 0, next: 0 };

export function enqueue(q: Queue, id: string): { queue: Queue; seq: number } {
  return { queue: { items: q.items.set(String(q.next), id), head: q.head, next: q.next + 1 }, seq: q.next };
}

export function dequeue(q: Queue, seq: number): Queue {
  const items = q.items.delete(String(seq));
  if (items === q.items) return q;
  let head = q.head;
  while (head < q.next && !items.has(String(head))) head += 1;
  return { items, head, next: q.next };
}

/** The ids from the oldest on. */
export function* oldestFirst(q: Queue): Generator<string> {
  for (let seq = q.head; seq < q.next; seq++) {
    const id = q.items.get(String(seq));
    if (id !== undefined) yield id;
  }
}
