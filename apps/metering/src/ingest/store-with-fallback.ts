import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { isDataError } from './database-errors.js';
import type { ReadEntry } from './read-usage-message.js';
import { storeBatch, type BatchOutcome, type StoreOptions } from './store-batch.js';

/**
 * Stores a batch; when Postgres refuses its data, stores the entries one by one and sets
 * aside each one it refuses as a dead letter, so one bad event (a NUL in a string, a number
 * out of range) never holds back the events behind it. Transient failures are thrown.
 */
export async function storeWithFallback(db: Kysely<Database>, entries: readonly ReadEntry[], options: StoreOptions): Promise<BatchOutcome> {
  try {
    return await storeBatch(db, entries, options);
  } catch (error) {
    if (!isDataError(error) || entries.length === 0) throw error;
  }
  const total: BatchOutcome = { stored: 0, duplicates: 0, pastRetention: 0, deadLetters: [], alerts: [] };
  for (const entry of entries) {
    const outcome = await storeBatch(db, [entry], options).catch(async (error: unknown) => {
      if (!isDataError(error)) throw error;
      const reason = `rejected by the database: ${(error as Error).message}`;
      const { seq, position, data, read } = entry;
      const [type, version] = read.ok ? ['UsageRecorded', 1] : [read.type, read.version];
      return storeBatch(db, [{ seq, position, data, read: { ok: false, kind: 'rejected_by_database', reason, type, version } }], options);
    });
    total.stored += outcome.stored;
    total.duplicates += outcome.duplicates;
    total.pastRetention += outcome.pastRetention;
    total.deadLetters.push(...outcome.deadLetters);
    total.alerts.push(...outcome.alerts);
  }
  return total;
}
