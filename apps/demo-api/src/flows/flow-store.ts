import { Injectable } from '@nestjs/common';
import { ResourceStore } from '../store/resource-store.js';
import { partitionOf, type Tenant } from '../tenancy/tenant.js';
import type { Flow } from './flow.js';

@Injectable()
export class FlowStore extends ResourceStore<Flow> {
  constructor() {
    super('flows');
  }
}

/**
 * How many runs each account and environment made: no route reads a run back, and keeping each
 * one (its echoed input up to 1 MiB) would grow memory with every execute.
 */
@Injectable()
export class RunCounter {
  private readonly runs = new Map<string, number>();

  add(tenant: Tenant): void {
    const key = partitionOf(tenant);
    this.runs.set(key, (this.runs.get(key) ?? 0) + 1);
  }

  count(tenant: Tenant): number {
    return this.runs.get(partitionOf(tenant)) ?? 0;
  }
}
