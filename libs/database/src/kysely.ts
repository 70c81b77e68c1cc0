import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

// bigint (int8) columns come back as strings by default; global positions and counters fit in a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface DatabaseOptions {
  url: string;
  /** Connections the pool opens at most; a service passes its DATABASE_POOL_MAX. */
  max: number;
  applicationName?: string;
}

export function createKysely<DB>({ url, max, applicationName }: DatabaseOptions): Kysely<DB> {
  const pool = new pg.Pool({ connectionString: url, max, application_name: applicationName });
  // A lost connection must not crash the process. The pool reports an idle client's error on
  // itself and replaces the client; a client in use also emits its error on itself, with no
  // listener but this one (pg-pool takes its own off while a client is lent), after failing the
  // client's queries, which is where the caller sees it.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}
