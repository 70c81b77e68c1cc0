import type { RateLimits } from '@keyplane/contracts';
import { getOrCreate } from '@keyplane/runtime';
import type { QuotaResult } from '../decision/decide.js';
import { leaseOf, nextLeaseSize, spend, type Lease } from './lease.js';
import type { QuotaItem, QuotaRelease } from './quota-store.js';
import { splitGrant, type Grant } from './split-grant.js';
import { windowsAt } from './windows.js';

/**
 * How long a key that was hot on this replica stays known after its leases went back: a client
 * that pauses for a few seconds between bursts should not pay the warm-up's round trips again.
 */
export const WARM_MEMORY_MS = 60_000;

export type ConsumeBatch = (items: QuotaItem[]) => Promise<Grant[]>;

export interface LeasePolicy {
  /** The largest lease; 0 turns leases off, and every request is counted in the shared store. */
  max: number;
  /** Requests a key must make on this replica, in its current windows, before it leases. */
  warmup: number;
  /**
   * How long a refill ahead of need waits for others to share its store call (0: none). A
   * request that has to wait for the store never waits for this: it sends the call at once,
   * and the refills gathered so far go with it. Nor does the refill of a key at the largest
   * lease: below it, leases double until refills come HOT_REFILL_MS apart, so half a lease
   * outlasts a shorter gathering; at it, half a lease can run out first.
   */
  refillGatherMs?: number;
}

export interface BatchingQuotaOptions {
  /** Counter calls in flight at once (one by default: measured, the most throughput on a busy machine). */
  maxInFlight?: number;
  maxItems?: number;
  lease?: LeasePolicy;
}

interface Waiter {
  resolve: (result: QuotaResult) => void;
  reject: (error: unknown) => void;
}

/** Requests of one key that share windows and limits, and what this replica holds for them. */
interface Slot {
  item: Omit<QuotaItem, 'units' | 'lease'>;
  waiting: Waiter[];
  /** Oldest first; a refill ahead of need can arrive while the last one still has units. */
  leases: Lease[];
  leaseSize: number;
  seen: number;
  lastUsedAt: number;
  lastRefillAt: number;
  counting: boolean;
  hourStart: number;
  /** The key's requests now fall in a later window or under other limits: this slot leases no more. */
  superseded: boolean;
}

interface Taken {
  slot: Slot;
  waiters: Waiter[];
  lease: number;
}

/**
 * Group commit for quotas, with leases for hot keys.
 *
 * Every request that arrives while the counter calls are in flight is counted by the next
 * call, for all keys at once, so under load a replica pays one transaction per batch instead
 * of one per request. A key that keeps coming back (past `warmup` requests, refills less than
 * 250 ms apart) also asks for a lease: units counted in the shared store now and handed to its
 * next requests from memory. Once half a lease is spent the next one is asked for in the
 * background, so a steady key does not wait for the store at all. The store never grants more
 * than a window holds, so no window admits more than its limit however many replicas run; near
 * the limit leases stop (see LEASE_FLOOR), and a lease nobody spends from goes back to the
 * store (`takeIdleLeases`).
 */
export class BatchingQuota {
  /** Per key id, its slots by windows and limits. */
  private readonly slots = new Map<string, Map<string, Slot>>();
  private readonly due = new Set<Slot>();
  /** Units of superseded slots, to give back ahead of the next count (see `supersede`). */
  private giveBack: QuotaRelease[] = [];
  private inFlight = 0;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly maxInFlight: number;
  private readonly maxItems: number;
  private readonly leasePolicy: LeasePolicy;
  private gathering: NodeJS.Timeout | undefined;

  constructor(
    private readonly consumeBatch: ConsumeBatch,
    options: BatchingQuotaOptions = {},
  ) {
    this.maxInFlight = options.maxInFlight ?? 1;
    this.maxItems = options.maxItems ?? 500;
    this.leasePolicy = options.lease ?? { max: 0, warmup: 0 };
  }

  consume(keyId: string, limits: RateLimits, now: number): Promise<QuotaResult> {
    const slot = this.slotFor(keyId, limits, now);
    slot.seen++;
    slot.lastUsedAt = now;
    if (slot.waiting.length === 0) {
      const spent = spendFrom(slot);
      if (spent) {
        this.refillAhead(slot);
        return Promise.resolve(spent);
      }
    }
    return new Promise((resolve, reject) => {
      slot.waiting.push({ resolve, reject });
      this.due.add(slot);
      this.pump();
    });
  }

  /**
   * Takes back the leased units of keys not used for `idleMs`. A key that was hot here is
   * remembered for WARM_MEMORY_MS more, with its lease size, so that when it comes back it
   * leases from its first request instead of going through the warm-up again; others are
   * forgotten.
   */
  takeIdleLeases(now: number, idleMs: number): QuotaRelease[] {
    // With a call due or in flight, the superseded units ride on the next one, ahead of its count.
    const superseded = this.inFlight === 0 && this.due.size === 0 ? this.giveBack.splice(0) : [];
    const idle = this.takeLeases(
      (slot) => now - slot.lastUsedAt >= idleMs,
      (slot) => slot.seen < this.leasePolicy.warmup || now - slot.lastUsedAt >= idleMs + WARM_MEMORY_MS,
    );
    return superseded.concat(idle);
  }

  /** Resolves once no counter call is in flight or due, so every lease asked for has arrived. */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.due.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Every unspent leased unit, for shutdown. */
  takeAllLeases(): QuotaRelease[] {
    return this.giveBack.splice(0).concat(this.takeLeases(() => true, () => true));
  }

  private takeLeases(idle: (slot: Slot) => boolean, forget: (slot: Slot) => boolean): QuotaRelease[] {
    const releases: QuotaRelease[] = [];
    for (const [keyId, slots] of this.slots) {
      for (const [key, slot] of slots) {
        // A slot with a call in flight or due would get units after they were taken back.
        if (slot.counting || this.due.has(slot) || slot.waiting.length > 0 || !idle(slot)) continue;
        const release = takeUnits(slot);
        if (release) releases.push(release);
        if (forget(slot)) slots.delete(key);
      }
      if (slots.size === 0) this.slots.delete(keyId);
    }
    return releases;
  }

  private slotFor(keyId: string, limits: RateLimits, now: number): Slot {
    const { hourStart, dayStart } = windowsAt(now);
    // Requests share a slot only when they fall in the same windows under the same limits.
    const key = `${hourStart}|${dayStart}|${limits.hour}|${limits.day}`;
    const slots = getOrCreate(this.slots, keyId, () => new Map<string, Slot>());
    let slot = slots.get(key);
    if (!slot) {
      // A request that looked its key up just before a window ended may come after one that did
      // just after: its slot is born superseded.
      let superseded = false;
      for (const other of slots.values()) {
        if (other.hourStart <= hourStart) this.supersede(other);
        else superseded = true;
      }
      slot = { item: { keyId, limits, now }, waiting: [], leases: [], leaseSize: 0, seen: 0, lastUsedAt: now, lastRefillAt: -Infinity, counting: false, hourStart, superseded };
      slots.set(key, slot);
    }
    return slot;
  }

  /**
   * The key's limits changed, or a window ended: what this replica holds for the key under the
   * old ones is counted in windows (or against limits) its requests no longer use. Left to go
   * back when idle, it would show as used in the new slot's first count: a 429 with the whole
   * window's Retry-After for a key with quota left, or a Remaining short by as much. So it goes
   * back ahead of the next count, in the same store call (a lease still on its way, when it
   * arrives). The old slot still counts late requests of its own, but leases no more.
   */
  private supersede(slot: Slot): void {
    slot.superseded = true;
    this.giveBackUnits(slot);
  }

  private giveBackUnits(slot: Slot): void {
    const release = takeUnits(slot);
    if (release) this.giveBack.push(release);
  }

  private pump(): void {
    while (this.due.size > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.takeBatch();
      if (batch.length === 0) break;
      this.inFlight++;
      void this.count(batch).finally(() => {
        this.inFlight--;
        if (this.due.size === 0 || this.someoneUrgent()) this.pump();
        else this.pumpAfterGathering();
      });
    }
    if (this.inFlight === 0 && this.due.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private someoneUrgent(): boolean {
    for (const slot of this.due) if (this.isUrgent(slot)) return true;
    return false;
  }

  /** A request waits on it, or its refill cannot wait for others (see `refillGatherMs`). */
  private isUrgent(slot: Slot): boolean {
    return slot.waiting.length > 0 || slot.leaseSize >= this.leasePolicy.max;
  }

  /** Sends the refills due so far once `refillGatherMs` has passed, unless a call takes them first. */
  private pumpAfterGathering(): void {
    const gatherMs = this.leasePolicy.refillGatherMs ?? 0;
    if (gatherMs === 0) return this.pump();
    this.gathering ??= setTimeout(() => {
      this.gathering = undefined;
      this.pump();
    }, gatherMs);
  }

  /** Due slots, except those with a call already in flight: they wait for its lease first. */
  private takeBatch(): Taken[] {
    const batch: Taken[] = [];
    for (const slot of this.due) {
      if (batch.length === this.maxItems) break;
      if (slot.counting) continue;
      this.due.delete(slot);
      const lease = slot.superseded ? 0 : this.leaseFor(slot);
      // A refill ahead of need that the key no longer merits.
      if (slot.waiting.length === 0 && lease === 0) continue;
      slot.counting = true;
      batch.push({ slot, waiters: slot.waiting, lease });
      slot.waiting = [];
    }
    return batch;
  }

  private leaseFor(slot: Slot): number {
    const { max, warmup } = this.leasePolicy;
    const sinceLastRefill = slot.lastUsedAt - slot.lastRefillAt;
    slot.lastRefillAt = slot.lastUsedAt;
    if (max === 0 || slot.seen < warmup) return 0;
    slot.leaseSize = nextLeaseSize(slot.leaseSize, sinceLastRefill, max);
    return slot.leaseSize;
  }

  private async count(batch: Taken[]): Promise<void> {
    let grants: Grant[];
    const items: QuotaItem[] = batch.map(({ slot, waiters, lease }) => ({ ...slot.item, units: waiters.length, lease }));
    // Not put back if the call fails: it may have been given back all the same, and twice would over-admit.
    const giveBack = this.giveBack.splice(0);
    if (giveBack.length > 0) items[0].giveBack = giveBack;
    try {
      grants = await this.consumeBatch(items);
    } catch (error) {
      for (const { slot, waiters } of batch) {
        slot.counting = false;
        for (const waiter of waiters) waiter.reject(error);
      }
      return;
    }
    batch.forEach(({ slot, waiters }, index) => {
      const grant = grants[index];
      slot.counting = false;
      splitGrant(grant, waiters.length).forEach((result, n) => waiters[n].resolve(result));
      if (grant.leased > 0) slot.leases.push(leaseOf(grant));
      this.serveFromLease(slot);
      if (slot.superseded) this.giveBackUnits(slot);
      else this.refillAhead(slot);
    });
  }

  /** Requests that arrived while the slot's call was in flight take the new lease first. */
  private serveFromLease(slot: Slot): void {
    let served = 0;
    for (let spent; served < slot.waiting.length && (spent = spendFrom(slot)); served++) slot.waiting[served].resolve(spent);
    slot.waiting.splice(0, served);
    if (slot.waiting.length === 0) this.due.delete(slot);
  }

  /** Asks for the next lease once half of this one is spent, unless a call is already out. */
  private refillAhead(slot: Slot): void {
    if (slot.leaseSize === 0 || slot.counting || this.due.has(slot) || unitsLeft(slot) > slot.leaseSize / 2) return;
    this.due.add(slot);
    if (this.isUrgent(slot)) this.pump();
    else this.pumpAfterGathering();
  }
}

function spendFrom(slot: Slot): QuotaResult | null {
  while (slot.leases.length > 0) {
    if (slot.leases[0].left > 0) return spend(slot.leases[0]);
    slot.leases.shift();
  }
  return null;
}

/** Empties a slot's leases; what they held, to give back. */
function takeUnits(slot: Slot): QuotaRelease | null {
  const units = unitsLeft(slot);
  slot.leases = [];
  return units > 0 ? { keyId: slot.item.keyId, now: slot.item.now, units } : null;
}

function unitsLeft(slot: Slot): number {
  return slot.leases.reduce((sum, lease) => sum + lease.left, 0);
}
