import { partitionOf, type Tenant } from '../tenancy/tenant.js';

export interface Resource {
  id: string;
}

/** In-memory objects, one partition per account and environment, in creation order. */
export class ResourceStore<T extends Resource> {
  private readonly partitions = new Map<string, Map<string, T>>();

  list(tenant: Tenant): T[] {
    return [...this.partition(tenant).values()];
  }

  get(tenant: Tenant, id: string): T | undefined {
    return this.partition(tenant).get(id);
  }

  put(tenant: Tenant, item: T): T {
    this.partition(tenant).set(item.id, item);
    return item;
  }

  delete(tenant: Tenant, id: string): boolean {
    return this.partition(tenant).delete(id);
  }

  count(tenant: Tenant): number {
    return this.partitions.get(partitionOf(tenant))?.size ?? 0;
  }

  private partition(tenant: Tenant): Map<string, T> {
    const key = partitionOf(tenant);
    let partition = this.partitions.get(key);
    if (!partition) {
      partition = new Map();
      this.partitions.set(key, partition);
    }
    return partition;
  }
}
