import type { Outcome } from '@keyplane/contracts';
import { Counter, Histogram, type Registry } from 'prom-client';

export class DecideMetrics {
  private readonly duration: Histogram;
  private readonly decisions: Counter<'outcome' | 'reason'>;

  constructor(registry: Registry) {
    this.duration = new Histogram({
      name: 'auth_decide_duration_seconds',
      help: 'Time to answer auth.decide, from a parsed request to the decision',
      // Fine below 1 ms: the handler sits on every API request's path.
      buckets: [0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05],
      registers: [registry],
    });
    this.decisions = new Counter({
      name: 'auth_decisions_total',
      help: 'Authorization decisions by outcome and reason; outcome "error" when no decision could be made',
      labelNames: ['outcome', 'reason'],
      registers: [registry],
    });
    // Present at 0 from the start, so the first failed decisions after a restart show in increase() and rate().
    this.decisions.inc({ outcome: 'error', reason: 'quota_store' }, 0);
  }

  observe(startedAt: number, outcome: Outcome | 'error' | 'bad_request', reason: string): void {
    this.duration.observe((performance.now() - startedAt) / 1000);
    this.decisions.inc({ outcome, reason });
  }
}
