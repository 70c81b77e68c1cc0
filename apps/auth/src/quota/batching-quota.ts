import type { RateLimits } from '@keyplane/contracts';
import type { QuotaResult } from '../decision/decide.js';
import type { QuotaItem } from './quota-store.js';
import { splitGrant, type Grant } from './split-grant.js';
import { windowsAt } from './windows.js';

export type ConsumeBatch = (items: QuotaItem[]) => Promise<Grant[]>;

interface Waiter {
  resolve: (result: QuotaResult) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  item: Omit<QuotaItem, 'units'>;
  waiting: Waiter[];
}

/**
 * Group commit for quotas: `maxInFlight` counter calls in flight per replica (one by default:
 * measured, it gives the most throughput on a busy machine), and every request that arrives
 * while they all are is counted by the next call, for all keys at once. Under load a replica
 * then pays one transaction per batch instead of one per request, whatever the mix of keys; a
 * quiet replica still answers each request with one call, without waiting. The
 * count stays exact because units are granted only to requests that are actually waiting —
 * unlike leased blocks of quota, no unit is ever stranded in a replica that no longer needs it.
 */
export class BatchingQuota {
  private pending = new Map<string, Slot>();
  private inFlight = 0;

  constructor(
    private readonly consumeBatch: ConsumeBatch,
    private readonly maxInFlight = 1,
    private readonly maxItems = 500,
  ) {}

  consume(keyId: string, limits: RateLimits, now: number): Promise<QuotaResult> {
    const { hourStart, dayStart } = windowsAt(now);
    // Requests share a slot only when they fall in the same windows under the same limits.
    const key = `${keyId}|${hourStart}|${dayStart}|${limits.hour}|${limits.day}`;
    return new Promise((resolve, reject) => {
      const slot = this.pending.get(key);
      if (slot) slot.waiting.push({ resolve, reject });
      else this.pending.set(key, { item: { keyId, limits, now }, waiting: [{ resolve, reject }] });
      this.pump();
    });
  }

  private pump(): void {
    while (this.pending.size > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.takeBatch();
      this.inFlight++;
      void this.count(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async count(batch: Slot[]): Promise<void> {
    try {
      const grants = await this.consumeBatch(batch.map((slot) => ({ ...slot.item, units: slot.waiting.length })));
      batch.forEach((slot, index) => {
        splitGrant(grants[index], slot.waiting.length).forEach((result, n) => slot.waiting[n].resolve(result));
      });
    } catch (error) {
      batch.forEach((slot) => slot.waiting.forEach((waiter) => waiter.reject(error)));
    }
  }

  private takeBatch(): Slot[] {
    const batch: Slot[] = [];
    for (const [key, slot] of this.pending) {
      if (batch.length === this.maxItems) break;
      batch.push(slot);
      this.pending.delete(key);
    }
    return batch;
  }
}
