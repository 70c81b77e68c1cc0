import { Counter, type Registry } from 'prom-client';
import type { QuotaRelease } from './quota-store.js';
import type { Grant } from './split-grant.js';

/** How often the shared counter is asked, and how much quota moves between it and this replica. */
export class QuotaMetrics {
  private readonly calls: Counter<'call'>;
  private readonly leased: Counter;
  private readonly released: Counter;

  constructor(registry: Registry) {
    this.calls = new Counter({
      name: 'auth_quota_store_calls_total',
      help: 'Round trips to the shared quota counter in Postgres, by call',
      labelNames: ['call'],
      registers: [registry],
    });
    this.leased = new Counter({
      name: 'auth_quota_leased_units_total',
      help: 'Quota units leased ahead of demand, to be spent in memory by this replica',
      registers: [registry],
    });
    this.released = new Counter({
      name: 'auth_quota_released_units_total',
      help: 'Leased quota units given back unspent',
      registers: [registry],
    });
  }

  granted(grants: Grant[]): Grant[] {
    this.calls.inc({ call: 'lease' });
    this.leased.inc(grants.reduce((sum, grant) => sum + grant.leased, 0));
    return grants;
  }

  gaveBack(releases: QuotaRelease[]): void {
    this.calls.inc({ call: 'release' });
    this.released.inc(releases.reduce((sum, release) => sum + release.units, 0));
  }
}
