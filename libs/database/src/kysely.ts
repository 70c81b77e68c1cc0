import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

// bigint (int8) columns come back as strings by default; global positions and counters fit in a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface DatabaseOptions {
  url: string;
  /** Pool size. */
  max?: number;
  applicationName?: string;
}

export function createKysely<DB>({ url, max = 10, applicationName }: DatabaseOptions): Kysely<DB> {
  const pool = new pg.Pool({ connectionString: url, max, application_name: applicationName });
  // An idle client's error (the server restarted) must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}
