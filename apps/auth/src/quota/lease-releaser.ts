import type { Logger } from '@keyplane/observability';
import { orAfter, WakeableLoop } from '@keyplane/runtime';
import type { BatchingQuota } from './batching-quota.js';
import type { QuotaRelease } from './quota-store.js';

/**
 * Gives leased units back to the shared store once their key has gone quiet on this replica,
 * and all of them on shutdown, so that units another replica could use do not sit unspent
 * here. A unit that cannot be given back stays counted until its window ends: the quota errs
 * on the side of admitting less, never more.
 */
export class LeaseReleaser {
  private readonly loop: WakeableLoop;

  constructor(
    private readonly quota: Pick<BatchingQuota, 'takeIdleLeases' | 'takeAllLeases' | 'idle'>,
    private readonly release: (releases: QuotaRelease[]) => Promise<void>,
    private readonly logger: Logger,
    idleMs: number,
  ) {
    // Every half idle period, so a lease goes back at most 1.5 idle periods after its last use.
    this.loop = new WakeableLoop({
      pass: async () => {
        await this.send(this.quota.takeIdleLeases(Date.now(), idleMs));
        return 0;
      },
      idleMs: Math.max(50, idleMs / 2),
      onError: (error) => this.logger.warn({ err: error }, 'lease release pass failed; the next one retries'),
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Waits (up to `settleMs`) for leases still on their way, then gives every unspent unit back. */
  async stop(settleMs = 2000): Promise<void> {
    await this.loop.stop();
    await orAfter(this.quota.idle(), settleMs, undefined);
    await this.send(this.quota.takeAllLeases());
  }

  private async send(releases: QuotaRelease[]): Promise<void> {
    if (releases.length === 0) return;
    try {
      await this.release(releases);
    } catch (error) {
      const units = releases.reduce((sum, release) => sum + release.units, 0);
      this.logger.warn({ err: error, units }, 'could not give leased quota back; it stays counted until its window ends');
    }
  }
}
