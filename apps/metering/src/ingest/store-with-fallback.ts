import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { isDatabaseFailure, isDataError } from './database-errors.js';
import type { DeadLetterKind, ReadEntry } from './read-usage-message.js';
import { storeBatch, type BatchOutcome, type StoreOptions } from './store-batch.js';

/** Why an entry that failed on its own is set aside, or undefined when its failure is to be retried. */
type SetAside = (error: unknown) => { kind: DeadLetterKind; reason: string } | undefined;

const rejectedByDatabase: SetAside = (error) => (isDataError(error) ? { kind: 'rejected_by_database', reason: `rejected by the database: ${(error as Error).message}` } : undefined);

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
  return storeEachAlone(db, entries, options, rejectedByDatabase);
}

/**
 * As storeWithFallback, and an entry that fails on its own for a reason that is not the
 * database's (metering's own code threw on what it holds) is set aside too. Only for a message
 * that has kept failing while Postgres answers: the caller has ruled out an outage.
 */
export async function storeSettingAsideUnstorable(db: Kysely<Database>, entries: readonly ReadEntry[], options: StoreOptions): Promise<BatchOutcome> {
  try {
    return await storeBatch(db, entries, options);
  } catch (error) {
    if ((isDatabaseFailure(error) && !isDataError(error)) || entries.length === 0) throw error;
  }
  return storeEachAlone(db, entries, options, (error) => rejectedByDatabase(error) ?? (isDatabaseFailure(error) ? undefined : { kind: 'unstorable', reason: unstorableReason(error) }));
}

/** Names what was thrown, never its message: that may quote what the event holds. */
function unstorableReason(error: unknown): string {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  const thrown = [typeof name === 'string' ? name : 'error', typeof code === 'string' ? code : undefined].filter(Boolean).join(' ');
  return `could not be stored (${thrown}) on repeated deliveries while the database answered`;
}

async function storeEachAlone(db: Kysely<Database>, entries: readonly ReadEntry[], options: StoreOptions, setAside: SetAside): Promise<BatchOutcome> {
  const total: BatchOutcome = { stored: 0, duplicates: 0, pastRetention: 0, deadLetters: [], alerts: [] };
  for (const entry of entries) {
    const outcome = await storeBatch(db, [entry], options).catch(async (error: unknown) => {
      const why = setAside(error);
      if (!why) throw error;
      const { seq, position, data, read } = entry;
      const [type, version] = read.ok ? ['UsageRecorded', 1] : [read.type, read.version];
      return storeBatch(db, [{ seq, position, data, read: { ok: false, ...why, type, version } }], options);
    });
    total.stored += outcome.stored;
    total.duplicates += outcome.duplicates;
    total.pastRetention += outcome.pastRetention;
    total.deadLetters.push(...outcome.deadLetters);
    total.alerts.push(...outcome.alerts);
  }
  return total;
}
