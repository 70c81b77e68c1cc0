import { sql, type RawBuilder } from 'kysely';

export type ColumnValue = string | number | null;

/** How one column of a row goes to Postgres: its array type and the value of a row. */
export interface UnnestColumn<Row> {
  type: 'text' | 'timestamptz' | 'bigint';
  of(row: Row): ColumnValue;
}

export const text = <Row>(of: (row: Row) => string | null): UnnestColumn<Row> => ({ type: 'text', of });
export const timestamptz = <Row>(of: (row: Row) => string): UnnestColumn<Row> => ({ type: 'timestamptz', of });
export const bigint = <Row>(of: (row: Row) => number | null): UnnestColumn<Row> => ({ type: 'bigint', of });

/**
 * `SELECT * FROM unnest($1::text[], $2::timestamptz[], ...)`: the rows as one array parameter
 * per column, for `INSERT ... SELECT`. A multi-row VALUES takes one parameter per cell (18,000
 * for 1000 events), which Postgres parses and plans far more slowly than a few arrays.
 */
export function unnestRows<Row>(rows: readonly Row[], columns: Record<string, UnnestColumn<Row>>): RawBuilder<unknown> {
  const arrays = Object.values(columns).map(({ type, of }) => sql`${rows.map(of)}::${sql.raw(type)}[]`);
  return sql`SELECT * FROM unnest(${sql.join(arrays)})`;
}

/** The column names, in the order unnestRows gives their values. */
export const columnNames = <Name extends string>(columns: Record<Name, unknown>): Name[] => Object.keys(columns) as Name[];
