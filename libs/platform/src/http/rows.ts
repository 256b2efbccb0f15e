/** `owner_team` → `ownerTeam`, at the type level. */
type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : S;

/** A database row as the HTTP APIs answer it. */
export type RowView<T> = { [K in keyof T as K extends string ? CamelCase<K> : K]: T[K] };

const camel = (column: string) => column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * A projection row as the admin APIs answer it (ADR 0112): every API speaks camelCase, so the
 * row's column names become camelCase; its values (jsonb included: labels, schemas, arguments)
 * are data, answered as stored.
 */
export function rowView<T extends object>(row: T): RowView<T> {
  return Object.fromEntries(Object.entries(row).map(([column, value]) => [camel(column), value])) as RowView<T>;
}

export const rowViews = <T extends object>(rows: readonly T[]): RowView<T>[] => rows.map(rowView);
