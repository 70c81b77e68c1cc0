import type { RateLimits } from '@keyplane/contracts';
import type { QuotaResult } from '../decision/decide.js';
import { splitGrant, type Grant } from './split-grant.js';
import { windowsAt } from './windows.js';

export type ConsumeUnits = (keyId: string, limits: RateLimits, now: number, units: number) => Promise<Grant>;

interface Waiter {
  resolve: (result: QuotaResult) => void;
  reject: (error: unknown) => void;
}

interface Queue {
  keyId: string;
  limits: RateLimits;
  now: number;
  waiting: Waiter[];
}

/**
 * One counter call at a time per key and window on this replica: requests that arrive while
 * one is in flight wait and are counted together by the next call. A hot key then costs one
 * row lock per batch instead of one per request, and the count stays exact because units are
 * granted only to requests that are actually waiting.
 */
export class CoalescingQuota {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly consumeUnits: ConsumeUnits,
    private readonly maxBatch = 256,
  ) {}

  consume(keyId: string, limits: RateLimits, now: number): Promise<QuotaResult> {
    const { hourStart, dayStart } = windowsAt(now);
    // Requests batch together only when they fall in the same windows under the same limits.
    const slot = `${keyId}|${hourStart}|${dayStart}|${limits.hour}|${limits.day}`;
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(slot);
      if (queue) {
        queue.waiting.push({ resolve, reject });
        return;
      }
      const fresh: Queue = { keyId, limits, now, waiting: [{ resolve, reject }] };
      this.queues.set(slot, fresh);
      void this.drain(slot, fresh);
    });
  }

  private async drain(slot: string, queue: Queue): Promise<void> {
    while (queue.waiting.length > 0) {
      const batch = queue.waiting.splice(0, this.maxBatch);
      try {
        const grant = await this.consumeUnits(queue.keyId, queue.limits, queue.now, batch.length);
        splitGrant(grant, batch.length).forEach((result, index) => batch[index].resolve(result));
      } catch (error) {
        batch.forEach((waiter) => waiter.reject(error));
      }
    }
    this.queues.delete(slot);
  }
}
