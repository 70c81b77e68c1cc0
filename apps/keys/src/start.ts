import type { Kysely } from 'kysely';
import type { DestinationStream } from 'pino';
import { namespace } from '@keyplane/contracts';
import { createKysely, ensureDatabase, migrateToLatest, pingDatabase } from '@keyplane/database';
import type { OutboxRelay } from '@keyplane/event-store';
import { connectNats, ensureStream, natsReachable } from '@keyplane/nats';
import { createLogger, createMetricsRegistry, Readiness } from '@keyplane/observability';
import { bootstrapService, natsDependency, postgresDependency, reaching, type ServiceHandle } from '@keyplane/runtime';
import { bootstrapKeyFingerprint } from './bootstrap/bootstrap-key.js';
import { ensureBootstrapAdmin } from './bootstrap/ensure-bootstrap-admin.js';
import { KeyCommandHandler } from './commands/key-command-handler.js';
import type { KeysConfig } from './config.js';
import { asEventStore } from './db/as-event-store.js';
import { migrations } from './db/migrations/index.js';
import { SCHEMA, type Database } from './db/schema.js';
import { KeysModule } from './keys.module.js';
import { KeysMetrics } from './metrics/keys-metrics.js';
import { createKeyEventRelay, keyEventStream } from './outbox/key-event-relay.js';
import type { Clock } from './tokens.js';

/**
 * How long a command reply waits for its events to reach the stream. Below the gateway's
 * `KEYS_TIMEOUT_MS` default (5 s) with room for the command's own work, or a caller would never
 * see the 503 that says the change is stored, only the gateway's own timeout.
 */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 3000;

export interface KeysServiceOptions {
  /** Where log lines go; tests capture them to search for secrets. */
  logDestination?: DestinationStream;
  /** Tests move time forward to see keys expire. */
  clock?: Clock;
  /** How long a command reply waits for its events to reach the stream (default DEFAULT_PUBLISH_TIMEOUT_MS). */
  publishTimeoutMs?: number;
  /** How often the relay looks for events appended by other replicas (default 200 ms). */
  relayPollIntervalMs?: number;
}

/** Starts the keys service: database, migrations, NATS, outbox relay, bootstrap admin, then the Nest app. */
export async function startKeysService(config: KeysConfig, options: KeysServiceOptions = {}): Promise<ServiceHandle> {
  // Checked before anything connects, so a bad value stops start-up at once.
  const configuredAdmin = bootstrapKeyFingerprint(config.bootstrapAdminKey, config.keyPrefix);
  const logger = createLogger('keys', { level: config.logLevel, destination: options.logDestination });
  const clock = options.clock ?? (() => new Date());
  const ns = namespace(config.natsPrefix);
  const readiness = new Readiness();
  const cleanup: (() => Promise<unknown>)[] = [];
  const closeAll = async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  };

  try {
    const root = createKysely<Database>({ url: config.databaseUrl, max: config.databasePoolMax, applicationName: 'keys' });
    cleanup.push(() => root.destroy());
    let migrated = false;
    await reaching(postgresDependency(config.databaseUrl), async () => {
      await ensureDatabase(config.databaseUrl);
      await migrateToLatest(root as Kysely<unknown>, SCHEMA, migrations);
    });
    migrated = true;
    const db = root.withSchema(SCHEMA);

    const nats = natsDependency(config.natsUrl, config.natsTls);
    const nc = await reaching(nats, () => connectNats({ url: config.natsUrl, name: 'keys', tls: config.natsTls }));
    cleanup.push(() => nc.close());
    await reaching(nats, () => ensureStream(nc, keyEventStream(ns)));

    const registry = createMetricsRegistry('keys');
    const relay = createKeyEventRelay({ db: asEventStore(db), nc, ns, logger, registry, pollIntervalMs: options.relayPollIntervalMs });
    let relayRunning = false;
    await relay.start();
    relayRunning = true;
    cleanup.push(async () => {
      relayRunning = false;
      await relay.stop();
    });

    const handler = new KeyCommandHandler({ db, relay, clock, publishTimeoutMs: options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS });
    await ensureBootstrapAdmin({ db, handler, logger, keyPrefix: config.keyPrefix, configured: configuredAdmin });

    readiness.add('nats', () => natsReachable(nc));
    readiness.add('postgres', () => pingDatabase(root as Kysely<unknown>));
    readiness.add('migrations', () => migrated);
    readiness.add('relay', () => relayRunning);
    const metrics = new KeysMetrics(registry, () => relayLag(db, relay));

    const module = KeysModule.forRoot({ db, handler, metrics, logger, clock, readiness, registry });
    // Handlers answer on the service's own connection, the one `/readyz` watches: ready means serving.
    const service = await bootstrapService({ module, config, logger, queue: 'keys', nats: nc });
    cleanup.push(() => service.close());
    logger.info({ url: service.url, prefix: ns.prefix }, 'keys service started');
    return { ...service, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

async function relayLag(db: Kysely<Database>, relay: OutboxRelay): Promise<number> {
  const row = await db.selectFrom('events').select((eb) => eb.fn.max('global_position').as('head')).executeTakeFirst();
  return Math.max(0, (row?.head ?? 0) - relay.publishedPosition);
}
