import type { Kysely } from 'kysely';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import type { Namespace } from '@keyplane/contracts';
import { encodeJson } from '@keyplane/nats';
import { WakeableLoop } from '@keyplane/runtime';
import type { Logger } from '@keyplane/observability';
import type { Database } from '../../db/schema.js';
import type { MeteringMetrics } from '../../metrics/metering-metrics.js';
import { toAlert } from '../alert-store.js';
import { postAlert, type WebhookTarget } from './post-webhook.js';
import { backoffMs } from '../../backoff.js';

export interface WebhookPolicy extends WebhookTarget {
  maxAttempts: number;
  backoffMs: number;
}

export interface AlertDispatcherOptions {
  db: Kysely<Database>;
  nc: NatsConnection;
  ns: Namespace;
  webhook?: WebhookPolicy;
  intervalMs: number;
  logger: Logger;
  metrics: MeteringMetrics;
}

const BATCH = 100;
const WEBHOOK_BATCH = 20;

/**
 * Sends stored alerts out: onto `alerts.<type>` (JetStream, msgID = alert id, so a re-send
 * after a crash is dropped as a duplicate) and to the webhook. Both work from Postgres (the
 * alert's published_at, the delivery row), so a restart picks up whatever was still owed,
 * and replicas share the work through row locks. Each runs in a loop of its own: a webhook
 * that takes its time never holds back the next alert's publication.
 */
export class AlertDispatcher {
  private readonly loops: WakeableLoop[];
  private readonly js;

  constructor(private readonly options: AlertDispatcherOptions) {
    this.js = jetstream(options.nc);
    const loop = (pass: () => Promise<number>) =>
      new WakeableLoop({ pass, idleMs: options.intervalMs, onError: (error) => options.logger.error({ err: error }, 'alert dispatch failed; retrying') });
    const { webhook } = options;
    this.loops = [loop(() => this.publishPending()), ...(webhook ? [loop(() => this.deliverDue(webhook))] : [])];
  }

  start(): void {
    for (const loop of this.loops) loop.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.loops.map((loop) => loop.stop()));
  }

  /** Called after a batch stored new alerts, so they go out now rather than at the next poll. */
  wake(): void {
    for (const loop of this.loops) loop.wake();
  }

  private async publishPending(): Promise<number> {
    const { db, ns } = this.options;
    return db.transaction().execute(async (trx) => {
      const rows = await trx.selectFrom('alerts').selectAll().where('published_at', 'is', null).orderBy('created_at').orderBy('id').limit(BATCH).forUpdate().skipLocked().execute();
      if (rows.length === 0) return 0;
      for (const row of rows) {
        const alert = toAlert(row);
        await this.js.publish(ns.subjects.alerts.ofType(alert.type), encodeJson(alert), { msgID: alert.id, expect: { streamName: ns.streams.alerts } });
      }
      await trx
        .updateTable('alerts')
        .set({ published_at: new Date().toISOString() })
        .where(
          'id',
          'in',
          rows.map((row) => row.id),
        )
        .execute();
      return rows.length;
    });
  }

  private async deliverDue(webhook: WebhookPolicy): Promise<number> {
    const { db, logger, metrics } = this.options;
    const now = Date.now();
    // Claim by pushing the due time past the POST's timeout: a replica that dies mid-POST leaves the delivery due again.
    const claimed = await db
      .updateTable('alert_deliveries')
      .set({ next_attempt_at: new Date(now + webhook.timeoutMs + 5000).toISOString() })
      .where('alert_id', 'in', (eb) =>
        eb
          .selectFrom('alert_deliveries')
          .select('alert_id')
          .where('delivered_at', 'is', null)
          .where('failed_at', 'is', null)
          .where('next_attempt_at', '<=', new Date(now))
          .orderBy('next_attempt_at')
          .limit(WEBHOOK_BATCH)
          .forUpdate()
          .skipLocked(),
      )
      .returning(['alert_id', 'attempts'])
      .execute();
    if (claimed.length === 0) return 0;
    const alerts = await db
      .selectFrom('alerts')
      .selectAll()
      .where(
        'id',
        'in',
        claimed.map((row) => row.alert_id),
      )
      .execute();
    await Promise.all(
      alerts.map(async (row) => {
        const alert = toAlert(row);
        const attempts = (claimed.find((claim) => claim.alert_id === row.id)?.attempts ?? 0) + 1;
        const failure = await postAlert(webhook, alert);
        if (failure === null) {
          metrics.webhookDeliveries.inc({ result: 'delivered' });
          await db.updateTable('alert_deliveries').set({ attempts, delivered_at: new Date().toISOString(), last_error: null }).where('alert_id', '=', row.id).execute();
          return;
        }
        const givingUp = attempts >= webhook.maxAttempts;
        metrics.webhookDeliveries.inc({ result: givingUp ? 'failed' : 'retry' });
        logger.warn({ alertId: alert.id, attempts, error: failure, givingUp }, givingUp ? 'alert webhook failed; giving up' : 'alert webhook failed; will retry');
        await db
          .updateTable('alert_deliveries')
          .set({
            attempts,
            last_error: failure,
            ...(givingUp ? { failed_at: new Date().toISOString() } : { next_attempt_at: new Date(Date.now() + backoffMs(attempts, webhook.backoffMs, 3_600_000)).toISOString() }),
          })
          .where('alert_id', '=', row.id)
          .execute();
      }),
    );
    return claimed.length;
  }
}
