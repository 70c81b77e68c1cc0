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
