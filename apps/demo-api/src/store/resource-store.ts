import { partitionOf, type Tenant } from '../tenancy/tenant.js';

export interface Resource {
  id: string;
}

/** What one account keeps of one collection in one environment. */
export interface StoreLimits {
  objects: number;
  /** Counted as the objects' JSON, as a list would send them. */
  bytes: number;
}

/**
 * Enough to try every call, small enough that the accounts a deployment has cannot fill the
 * process: the gateway takes bodies up to 1 MiB, so without a budget a few keys could keep
 * gigabytes here.
 */
export const STORE_LIMITS: StoreLimits = { objects: 1000, bytes: 8 * 1024 * 1024 };

/** A write the tenant's budget has no room for; nothing was stored. */
export class StoreFull extends Error {}

interface Partition<T> {
  items: Map<string, { item: T; bytes: number }>;
  bytes: number;
}

/** In-memory objects, one partition per account and environment, in creation order, within `limits`. */
export class ResourceStore<T extends Resource> {
  private readonly partitions = new Map<string, Partition<T>>();

  /** `noun` names the collection in refusals: `Too many flows: ...`. */
  constructor(
    private readonly noun: string,
    private readonly limits: StoreLimits = STORE_LIMITS,
  ) {}

  list(tenant: Tenant): T[] {
    return [...(this.partitions.get(partitionOf(tenant))?.items.values() ?? [])].map(({ item }) => item);
  }

  get(tenant: Tenant, id: string): T | undefined {
    return this.partitions.get(partitionOf(tenant))?.items.get(id)?.item;
  }

  /** Adds or replaces `item` (a replaced one keeps its place); throws StoreFull, storing nothing, when it does not fit. */
  put(tenant: Tenant, item: T): T {
    const key = partitionOf(tenant);
    const partition = this.partitions.get(key) ?? { items: new Map(), bytes: 0 };
    const previous = partition.items.get(item.id);
    const bytes = Buffer.byteLength(JSON.stringify(item));
    if (!previous && partition.items.size >= this.limits.objects) {
      throw new StoreFull(`Too many ${this.noun}: an account keeps at most ${this.limits.objects} per environment; delete some first`);
    }
    if (partition.bytes - (previous?.bytes ?? 0) + bytes > this.limits.bytes) {
      throw new StoreFull(`Too much data in ${this.noun}: an account keeps at most ${describeBytes(this.limits.bytes)} of them per environment; delete some first`);
    }
    partition.items.set(item.id, { item, bytes });
    partition.bytes += bytes - (previous?.bytes ?? 0);
    this.partitions.set(key, partition);
    return item;
  }

  delete(tenant: Tenant, id: string): boolean {
    const partition = this.partitions.get(partitionOf(tenant));
    const entry = partition?.items.get(id);
    if (!partition || !entry) return false;
    partition.items.delete(id);
    partition.bytes -= entry.bytes;
    return true;
  }

  count(tenant: Tenant): number {
    return this.partitions.get(partitionOf(tenant))?.items.size ?? 0;
  }
}

const MIB = 1024 * 1024;
const describeBytes = (bytes: number) => (bytes % MIB === 0 ? `${bytes / MIB} MiB` : `${bytes} bytes`);
