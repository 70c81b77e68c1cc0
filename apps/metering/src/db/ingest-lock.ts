import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * The transaction-scoped lock every ingest batch holds: replicas store batches in turn (each
 * batch's detectors read what the batches before it stored), and the retention sweep takes it
 * to move its watermark between batches.
 */
export async function lockIngest(trx: Kysely<Database>): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtext('metering.ingest'))`.execute(trx);
}

/** The batch's number, taken under the lock: one more than the last batch's, whichever replica stored it (migration 0005). */
export async function takeIngestTurn(trx: Kysely<Database>): Promise<number> {
  const { rows } = await sql<{ turn: string }>`SELECT nextval('metering.ingest_turns') AS turn`.execute(trx);
  return Number(rows[0]!.turn);
}
