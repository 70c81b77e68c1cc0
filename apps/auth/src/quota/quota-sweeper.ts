import { sql, type Kysely } from 'kysely';
import type { Logger } from '@keyplane/observability';
import type { AuthDatabase } from '../db/schema.js';
import { DAY_MS, HOUR_MS, windowsAt } from './windows.js';

const SWEEP_EVERY_MS = 10 * 60_000;

/**
 * Deletes window rows that can no longer be counted against. The window just before the
 * current one is kept, so a replica whose clock is a little behind still finds its row.
 * Every replica sweeps; the delete is idempotent.
 */
export async function sweepQuotaWindows(db: Kysely<AuthDatabase>, now: number): Promise<number> {
  const { hourStart, dayStart } = windowsAt(now);
  const result = await sql`
    DELETE FROM auth.quota_windows
    WHERE (period = 'hour' AND window_start < ${new Date(hourStart - HOUR_MS).toISOString()}::timestamptz)
       OR (period = 'day' AND window_start < ${new Date(dayStart - DAY_MS).toISOString()}::timestamptz)
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

export class QuotaSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Kysely<AuthDatabase>,
    private readonly logger: Logger,
    private readonly everyMs = SWEEP_EVERY_MS,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running = this.sweep();
    }, this.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async sweep(): Promise<void> {
    try {
      const deleted = await sweepQuotaWindows(this.db, Date.now());
      if (deleted > 0) this.logger.debug({ deleted }, 'swept old quota windows');
    } catch (error) {
      this.logger.warn({ err: error }, 'quota window sweep failed; the next one retries');
    }
  }
}
