import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect, type CompiledQuery } from 'kysely';
import type pg from 'pg';

// What the query benchmarks on production-sized tables (metering-queries.ts,
// keys-audit-queries.ts) share: reading their settings, making stable ids, choosing the migrations to fill
// under, and reading plans.

/** A positive integer setting from the environment. */
export function integer(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

/** 26 upper-case hex characters, the same for the same text: ids that two runs share. */
export function md5Upper(text: string): string {
  return createHash('md5').update(text).digest('hex').slice(0, 26).toUpperCase();
}

/** The migrations named up to `upTo` (all of them without it): the schema a table is filled under before the rest are timed on it. */
export function migrationsUpTo<M>(migrations: Record<string, M>, upTo: string | undefined): Record<string, M> {
  if (upTo === undefined) return migrations;
  return Object.fromEntries(Object.keys(migrations).sort().filter((name) => name <= upTo).map((name) => [name, migrations[name]!]));
}

/** One node of `EXPLAIN (ANALYZE, FORMAT JSON)`, with the fields read here. */
export interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

/** What a plan read: every row a scan node produced or threw away, per loop. */
export function rowsRead(node: PlanNode): number {
  const own =
    node['Node Type'].endsWith('Scan') && node['Node Type'] !== 'Bitmap Index Scan'
      ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) * node['Actual Loops']
      : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + rowsRead(child), 0);
}

/** The plan as one line of node types and index names. */
export function planShape(node: PlanNode): string {
  const self = node['Index Name'] ? `${node['Node Type']} ${node['Index Name']}` : node['Node Type'];
  const children = (node.Plans ?? []).map(planShape);
  return children.length === 0 ? self : `${self} > ${children.join(' + ')}`;
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** A Kysely on `pool` that remembers the last query it ran, for `explainLast`. */
export function capturingKysely<Database>(pool: pg.Pool, schema: string): { db: Kysely<Database>; lastQuery: () => CompiledQuery } {
  let captured: CompiledQuery | undefined;
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      captured = event.query;
    },
  }).withSchema(schema);
  return { db, lastQuery: () => captured! };
}

/** The plan of `query` as it ran again under `EXPLAIN (ANALYZE, BUFFERS)`. */
export async function explainLast(pool: pg.Pool, query: CompiledQuery): Promise<PlanNode> {
  const { rows } = await pool.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${query.sql}`, [...query.parameters]);
  return (rows[0] as { 'QUERY PLAN': Array<{ Plan: PlanNode }> })['QUERY PLAN'][0]!.Plan;
}

/** A short digest of an answer, to show two builds answered alike. */
export const answerDigest = (answer: unknown) => createHash('sha256').update(JSON.stringify(answer)).digest('hex').slice(0, 12);
