import { Envelope, TopicName } from '@warden/contracts';

/** A projection row: a plain object whose keys are the table's column names. */
export type Row = { readonly id: string } & Record<string, unknown>;

/**
 * A projection: a pure `evolve(row, event)` over an explicit list of event types, writing one
 * table of the service's schema. Returning null deletes the row.
 */
export interface ProjectionDefinition<R extends Row = Row> {
  readonly name: string;
  /** `schema.table`. */
  readonly table: string;
  readonly topics: readonly TopicName[];
  readonly handles: readonly string[];
  /** The row an event belongs to; undefined when the event does not touch this projection. */
  rowId(event: Envelope): string | undefined;
  evolve(row: R | null, event: Envelope): R | null;
  /**
   * Optional: the row `evolve` returns, made by changing `row` in place (and returned). Only for
   * a caller that owns the row, i.e. nothing else refers to it or to the objects it holds, such
   * as a bulk rebuild folding rows it created or loaded itself: it saves copying the row on
   * every event. It must give what `evolve` gives.
   */
  evolveInPlace?(row: R | null, event: Envelope): R | null;
}
