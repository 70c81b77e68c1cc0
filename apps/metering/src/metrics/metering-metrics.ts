import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { AlertType } from '@keyplane/contracts';
import type { DeadLetterKind } from '../ingest/read-usage-message.js';

// Checked against the type, so a new kind cannot be left out of the zeros below.
const DEAD_LETTER_KINDS = Object.keys({
  malformed_json: 0,
  not_an_event: 0,
  unknown_version: 0,
  schema_invalid: 0,
  rejected_by_database: 0,
  unstorable: 0,
  conflicting_duplicate: 0,
} satisfies Record<DeadLetterKind, 0>);

export interface MeteringMetrics {
  eventsIngested: Counter<'result'>;
  batchSize: Histogram;
  batchDuration: Histogram;
  batchRetries: Counter;
  deadLetters: Counter<'kind'>;
  alertsRaised: Counter<'type'>;
  webhookDeliveries: Counter<'result'>;
}

export interface ConsumerLag {
  /** Messages on the stream not yet delivered to the consumer, and delivered but not yet acked. */
  pending(): Promise<{ pending: number; ackPending: number } | undefined>;
}

export function createMeteringMetrics(registry: Registry, lag: ConsumerLag): MeteringMetrics {
  const registers = [registry];
  new Gauge({
    name: 'metering_consumer_pending',
    help: 'Usage stream messages (one or more events each) not yet delivered to metering (consumer lag)',
    registers,
    async collect() {
      // Unknown (NATS away, the durable being made anew) reads NaN: the last value could say "caught up".
      const state = await lag.pending().catch(() => undefined);
      this.set(state ? state.pending : Number.NaN);
    },
  });
  new Gauge({
    name: 'metering_consumer_ack_pending',
    help: 'Usage stream messages delivered to metering and not yet acknowledged',
    registers,
    async collect() {
      const state = await lag.pending().catch(() => undefined);
      this.set(state ? state.ackPending : Number.NaN);
    },
  });
  const metrics: MeteringMetrics = {
    eventsIngested: new Counter({
      name: 'metering_events_ingested_total',
      help: 'Usage events read from the stream: stored, duplicate (already stored, not counted again), or past_retention (older than what the retention sweep deleted, not counted)',
      labelNames: ['result'],
      registers,
    }),
    batchSize: new Histogram({
      name: 'metering_ingest_batch_size',
      help: 'Usage events (or unreadable messages) per ingest batch',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2000],
      registers,
    }),
    batchDuration: new Histogram({
      name: 'metering_ingest_batch_duration_seconds',
      help: 'Time to store, fold and ack one batch',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    batchRetries: new Counter({ name: 'metering_ingest_batch_retries_total', help: 'Batches handed back to the stream after a transient failure', registers }),
    deadLetters: new Counter({ name: 'metering_dead_letters_total', help: 'Usage events, or whole messages, set aside as unreadable', labelNames: ['kind'], registers }),
    alertsRaised: new Counter({ name: 'metering_alerts_raised_total', help: 'Alerts stored (after deduplication), by type', labelNames: ['type'], registers }),
    webhookDeliveries: new Counter({
      name: 'metering_alert_webhook_deliveries_total',
      help: 'Alert webhook POSTs: delivered, retry (failed, will retry) or failed (gave up)',
      labelNames: ['result'],
      registers,
    }),
  };
  // Present at 0 from the start, so the first of each after a restart shows in increase() and rate().
  for (const result of ['stored', 'duplicate', 'past_retention']) metrics.eventsIngested.inc({ result }, 0);
  for (const type of AlertType.options) metrics.alertsRaised.inc({ type }, 0);
  for (const result of ['delivered', 'retry', 'failed']) metrics.webhookDeliveries.inc({ result }, 0);
  for (const kind of DEAD_LETTER_KINDS) metrics.deadLetters.inc({ kind }, 0);
  return metrics;
}
