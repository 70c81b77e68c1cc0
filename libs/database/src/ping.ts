import { sql, type Kysely } from 'kysely';
import { orAfter } from '@keyplane/runtime';

/**
 * True when Postgres answers `SELECT 1` within `timeoutMs`: a readiness check. A server that
 * holds the connection open and never answers (a partition, a hung failover) would otherwise
 * hang the probe, and `/readyz` with it, instead of reporting the failing check.
 */
export async function pingDatabase<DB>(db: Kysely<DB>, timeoutMs = 1000): Promise<boolean> {
  const answered = sql`SELECT 1`.execute(db).then(
    () => true,
    () => false,
  );
  return orAfter(answered, timeoutMs, false);
}
