import { sql, type Kysely } from 'kysely';
import type { Logger } from '@keyplane/observability';
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
    let deleted = 0;
    for (;;) {
      const result = await sql<{ event_id: string }>`
        DELETE FROM metering.usage_events
        WHERE event_id IN (SELECT event_id FROM metering.usage_events WHERE occurred_at < ${cutoff} LIMIT ${CHUNK})
        RETURNING event_id`.execute(db);
      deleted += result.rows.length;
      if (result.rows.length < CHUNK) break;
    }
    await db.deleteFrom('dead_letters').where('received_at', '<', cutoff).execute();
    if (deleted > 0) logger.info({ deleted, cutoff }, 'usage events past retention deleted');
    return deleted;
  }
}
