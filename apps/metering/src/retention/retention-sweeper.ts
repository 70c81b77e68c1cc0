import { sql, type Kysely } from 'kysely';
import type { Logger } from '@keyplane/observability';
import { lockIngest } from '../db/ingest-lock.js';
import type { Database } from '../db/schema.js';
import { DAY_MS } from '../windows/utc-window.js';

export interface RetentionOptions {
  db: Kysely<Database>;
  logger: Logger;
  retentionDays: number;
  intervalMs: number;
}

/** Rows per DELETE, so a large backlog never holds one long lock on the table. */
const CHUNK = 5000;

/**
 * Deletes usage events (and dead letters) older than the retention period, by wall-clock
 * time. Windows, alerts and last-used times are aggregates and stay. The first sweep runs one
 * interval after start, not at start, so a restart loop cannot turn into a delete loop.
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> | undefined;

  constructor(private readonly options: RetentionOptions) {}

  start(): void {
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep()
        .catch((error: unknown) => this.options.logger.error({ err: error }, 'usage retention sweep failed'))
        .finally(() => {
          this.sweeping = undefined;
        });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** Deletes everything past retention as of `now`; returns how many events went. */
  async sweep(now = Date.now()): Promise<number> {
    const { db, logger, retentionDays } = this.options;
    const cutoff = new Date(now - retentionDays * DAY_MS);
    await raiseWatermark(db, cutoff);
    let deleted = 0;
    for (;;) {
      // By `occurred_at AT TIME ZONE 'UTC'`, the same order, so the sweep's index (usage_events_retention)
      // is one no listing of a key's events can walk instead of the key's own (migration 0004).
      const result = await sql<{ event_id: string }>`
        DELETE FROM metering.usage_events
        WHERE event_id IN (
          SELECT event_id FROM metering.usage_events
          WHERE (occurred_at AT TIME ZONE 'UTC') < (${cutoff}::timestamptz AT TIME ZONE 'UTC')
          LIMIT ${CHUNK})
        RETURNING event_id`.execute(db);
      deleted += result.rows.length;
      if (result.rows.length < CHUNK) break;
    }
    await db.deleteFrom('dead_letters').where('received_at', '<', cutoff).execute();
    if (deleted > 0) logger.info({ deleted, cutoff }, 'usage events past retention deleted');
    return deleted;
  }
}

/**
 * Before anything is deleted, ingest stops counting events older than the cutoff: a deleted
 * event's id is gone, so a replay of it would be counted twice. Taken under ingest's own lock,
 * so no batch that read the old watermark is still storing when the deletes begin.
 */
async function raiseWatermark(db: Kysely<Database>, cutoff: Date): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await lockIngest(trx);
    await trx
      .insertInto('retention')
      .values({ swept_before: cutoff.toISOString() })
      .onConflict((oc) => oc.column('singleton').doUpdateSet({ swept_before: sql`greatest(retention.swept_before, excluded.swept_before)` }))
      .execute();
  });
}
