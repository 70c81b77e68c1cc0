import type { DestinationStream } from 'pino';
import type { Kysely } from 'kysely';
import { namespace } from '@keyplane/contracts';
import { createKysely, ensureDatabase, migrateToLatest, pingDatabase } from '@keyplane/database';
import { connectNats, ensureStream, natsReachable } from '@keyplane/nats';
import { createLogger, createMetricsRegistry, Readiness } from '@keyplane/observability';
import { bootstrapService, natsDependency, postgresDependency, reaching, type ServiceHandle } from '@keyplane/runtime';
import type { MeteringConfig } from './config.js';
import { migrations } from './db/migrations/index.js';
import { METERING_SCHEMA, type Database } from './db/schema.js';
import { AlertDispatcher } from './alerts/delivery/alert-dispatcher.js';
import { alertStream } from './alerts/delivery/alert-stream.js';
import { UsageConsumer } from './ingest/usage-consumer.js';
import { MeteringModule } from './metering.module.js';
import { createMeteringMetrics } from './metrics/metering-metrics.js';
import { RetentionSweeper } from './retention/retention-sweeper.js';

export interface MeteringStartOptions {
  /** Where the log lines go (tests capture them); stdout by default. */
  logDestination?: DestinationStream;
}

/**
 * Starts metering: migrations, the durable consumer of the usage stream, the alert
 * dispatcher, the retention sweep, and the NATS query handlers with the probes. close()
 * stops consuming once the batch in flight has committed and acked, then closes the rest.
 */
export async function startMeteringService(config: MeteringConfig, options: MeteringStartOptions = {}): Promise<ServiceHandle> {
  const logger = createLogger('metering', { level: config.logLevel, destination: options.logDestination });
  const ns = namespace(config.natsPrefix);
  const closers: (() => Promise<unknown>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((error: unknown) => logger.error({ err: error }, 'closing metering failed'));
  };
  try {
    const root = createKysely<Database>({ url: config.databaseUrl, max: config.databasePoolMax, applicationName: 'metering' });
    closers.push(() => root.destroy());
    await reaching(postgresDependency(config.databaseUrl), async () => {
      await ensureDatabase(config.databaseUrl);
      await migrateToLatest(root as Kysely<unknown>, METERING_SCHEMA, migrations);
    });
    const db = root.withSchema(METERING_SCHEMA);

    const nats = natsDependency(config.natsUrl, config.natsTls);
    const nc = await reaching(nats, () => connectNats({ url: config.natsUrl, name: 'metering', tls: config.natsTls }));
    closers.push(() => nc.drain());
    await reaching(nats, () => ensureStream(nc, alertStream(ns, config.alertStreamMaxAgeHours), { ownsLimits: true }));

    const registry = createMetricsRegistry('metering');
    const lag = { pending: () => consumer.lag() };
    const metrics = createMeteringMetrics(registry, lag);
    if (config.alertWebhookUrl && !config.alertWebhookSecret) {
      logger.warn('ALERT_WEBHOOK_URL is set without ALERT_WEBHOOK_SECRET: webhook POSTs go unsigned');
    }
    const dispatcher = new AlertDispatcher({
      db,
      nc,
      ns,
      webhook: config.alertWebhookUrl ? { url: config.alertWebhookUrl, secret: config.alertWebhookSecret, ...config.webhookDelivery } : undefined,
      intervalMs: config.alertDispatchIntervalMs,
      logger,
      metrics,
    });
    const consumer = new UsageConsumer({
      nc,
      ns,
      db,
      logger,
      metrics,
      settings: config.ingest,
      thresholds: config.thresholds,
      webhook: config.alertWebhookUrl !== undefined,
      onAlerts: () => dispatcher.wake(),
    });
    const sweeper = new RetentionSweeper({ db, logger, retentionDays: config.retentionDays, intervalMs: config.retentionSweepIntervalMs });

    const readiness = new Readiness();
    readiness.add('nats', () => natsReachable(nc));
    readiness.add('postgres', () => pingDatabase(root as Kysely<unknown>));
    readiness.add('usage-consumer', () => consumer.consuming);

    await consumer.start();
    closers.push(() => consumer.stop());
    dispatcher.start();
    closers.push(() => dispatcher.stop());
    sweeper.start();
    closers.push(() => sweeper.stop());

    // Handlers answer on the service's own connection, the one `/readyz` watches: ready means serving.
    const handle = await bootstrapService({ module: MeteringModule.forRoot({ db, logger, readiness, registry }), config, logger, queue: 'metering', nats: nc });
    // The HTTP and NATS front goes first on close, then the consumer finishes its batch, then connections.
    closers.push(() => handle.app.close());
    logger.info({ url: handle.url, stream: ns.streams.usageEvents }, 'metering started');
    let closing: Promise<void> | undefined;
    return { app: handle.app, url: handle.url, close: () => (closing ??= closeAll()) };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
