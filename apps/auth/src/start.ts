import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Kysely } from 'kysely';
import type { DestinationStream } from 'pino';
import { namespace, usageBatchMessageId } from '@keyplane/contracts';
import { createKysely, ensureDatabase, migrateToLatest, pingDatabase } from '@keyplane/database';
import { connectNats, ensureStream, publishToStream, RequestMux, usageEventStream } from '@keyplane/nats';
import { createLogger, createMetricsRegistry, Readiness } from '@keyplane/observability';
import { bootstrapService, natsDependency, postgresDependency, reaching, type ServiceHandle } from '@keyplane/runtime';
import { AuthModule } from './auth.module.js';
import type { AuthConfig } from './config.js';
import { migrations } from './db/migrations/index.js';
import type { AuthDatabase } from './db/schema.js';
import { Authorizer } from './decide/authorizer.js';
import { InFlight } from './decide/in-flight.js';
import { AppliedSequence } from './key-view/applied-sequence.js';
import { FreshLookup } from './key-view/fresh-lookup.js';
import { KeyEventFollower } from './key-view/key-event-follower.js';
import { KeyView } from './key-view/key-view.js';
import { StreamHead } from './key-view/stream-head.js';
import { ConnectionState } from './nats/connection-state.js';
import { BatchingQuota } from './quota/batching-quota.js';
import { LeaseReleaser } from './quota/lease-releaser.js';
import { QuotaMetrics } from './quota/quota-metrics.js';
import { consumeBatch, releaseBatch, type QuotaItem, type QuotaRelease } from './quota/quota-store.js';
import { QuotaSweeper } from './quota/quota-sweeper.js';
import { UsagePublisher } from './usage/usage-publisher.js';
import { UsageSpillDrain } from './usage/usage-spill-drain.js';
import { UsageSpillStore } from './usage/usage-spill-store.js';

export interface AuthOptions {
  logDestination?: DestinationStream;
}

/** Key events are kept forever; a day of msg ids lets the outbox re-publish safely after a long outage. */
const KEY_EVENTS_DUPLICATE_WINDOW_SECONDS = 86_400;
const JETSTREAM_TIMEOUT_MS = 2000;
/**
 * Requests a key makes on a replica, within its windows, before that replica leases quota for
 * it: a key used now and then is counted request by request, so its headers stay exact
 * whichever replica answers.
 */
const LEASE_WARMUP = 16;
/**
 * A refill is asked for when half a lease is left. Below the largest lease, leases double until
 * refills come 250 ms apart, this wait included, so that half lasts about 150 ms or more:
 * waiting up to 100 ms lets the refills of many keys share one Postgres round trip, and a
 * replica makes at most about ten such calls a second however many keys it serves. A key at
 * the largest lease does not wait (`BatchingQuota`).
 */
const REFILL_GATHER_MS = 100;
/** How long shutdown waits for handlers still running once no new request can arrive. */
const HANDLER_DRAIN_TIMEOUT_MS = 2000;
/** Spilled usage messages one drain pass publishes at once: as many as the publisher keeps awaiting their ack. */
const USAGE_DRAIN_BATCH = 64;

/**
 * Starts an auth replica: schema, NATS, streams, then the key view replayed up to the
 * stream's head, and only then the `auth.decide` subscription (queue group `auth`), so a
 * replica never answers from a view that is behind the stream it started with.
 */
export async function startAuthService(config: AuthConfig, options: AuthOptions = {}): Promise<ServiceHandle> {
  const logger = createLogger('auth', { level: config.logLevel, destination: options.logDestination });
  const ns = namespace(config.natsPrefix);
  const undo: (() => Promise<unknown>)[] = [];
  try {
    const db = createKysely<AuthDatabase>({ url: config.databaseUrl, max: config.databasePoolMax, applicationName: 'auth' });
    undo.push(() => db.destroy());
    await reaching(postgresDependency(config.databaseUrl), async () => {
      await ensureDatabase(config.databaseUrl);
      await migrateToLatest(db as Kysely<unknown>, 'auth', migrations);
    });

    const nats = natsDependency(config.natsUrl, config.natsTls);
    const nc: NatsConnection = await reaching(nats, () => connectNats({ url: config.natsUrl, name: 'auth', tls: config.natsTls }));
    undo.push(() => nc.close());
    const connection = new ConnectionState(nc, logger);
    await reaching(nats, async () => {
      await ensureStream(nc, {
        name: ns.streams.keyEvents,
        subjects: [ns.subjects.keyEvents.all],
        duplicateWindowSeconds: KEY_EVENTS_DUPLICATE_WINDOW_SECONDS,
      });
      await ensureStream(nc, usageEventStream(ns));
    });

    const registry = createMetricsRegistry('auth');
    const view = new KeyView();
    const applied = new AppliedSequence();
    const follower = new KeyEventFollower({ nc, stream: ns.streams.keyEvents, subject: ns.subjects.keyEvents.all, view, applied, logger, registry });
    undo.push(() => follower.stop());
    await follower.start();

    // One request per decision: through a mux of our own, not nats.js's request (see RequestMux).
    const mux = new RequestMux(nc);
    const publishUsage = async (body: Uint8Array, messageId: string) => {
      await publishToStream(mux, ns.subjects.usageEvents, body, messageId, JETSTREAM_TIMEOUT_MS);
    };
    // What the usage stream refuses goes to Postgres, and any replica's drain publishes it later.
    const spillStore = new UsageSpillStore(db);
    const drain = new UsageSpillDrain({
      drain: () => spillStore.drain(USAGE_DRAIN_BATCH, ({ body, messageId }) => publishUsage(body, messageId)),
      waitingEvents: () => spillStore.waitingEvents(),
      logger,
      registry,
    });
    const usage = new UsagePublisher({
      publish: ({ events, body }) => publishUsage(body, usageBatchMessageId(events)),
      spill: async (messages) => {
        await spillStore.spill(messages);
        drain.wake();
      },
      logger,
      registry,
      capacity: config.usageQueueCapacity,
    });
    drain.start();
    undo.push(() => drain.stop());
    // One manager for every head request: lastSequence() builds a new one per call, which costs
    // an extra JetStream API round trip on each unknown key.
    const jsm = await jetstreamManager(nc, { timeout: JETSTREAM_TIMEOUT_MS });
    const head = new StreamHead(async () => {
      const { state, created } = await jsm.streams.info(ns.streams.keyEvents);
      return { sequence: state.last_seq, created };
    });
    const keys = new FreshLookup({ view, applied, head, logger, registry });
    const quotaMetrics = new QuotaMetrics(registry);
    const giveBack = async (releases: QuotaRelease[]) => {
      await releaseBatch(db, releases);
      quotaMetrics.gaveBack(releases);
    };
    const countBatch = async (items: QuotaItem[]) => {
      const superseded = items.flatMap((item) => item.giveBack ?? []);
      // Committed first, in a transaction of its own (one lock order per transaction), so the count sees those units free.
      if (superseded.length > 0) await giveBack(superseded);
      return quotaMetrics.granted(await consumeBatch(db, items));
    };
    const quota = new BatchingQuota(countBatch, {
      maxInFlight: config.quotaBatchesInFlight,
      lease: { max: config.quotaLeaseMax, warmup: LEASE_WARMUP, refillGatherMs: REFILL_GATHER_MS },
    });
    const releaser = new LeaseReleaser(quota, giveBack, logger, config.quotaLeaseIdleMs);
    releaser.start();
    undo.push(() => releaser.stop());
    const authorizer = new Authorizer(keys, (keyId, limits, now) => quota.consume(keyId, limits, now));
    const sweeper = new QuotaSweeper(db, logger);
    sweeper.start();
    undo.push(() => sweeper.stop());

    const readiness = new Readiness();
    readiness.add('nats', () => connection.connected);
    readiness.add('postgres', () => pingDatabase(db as Kysely<unknown>));
    readiness.add('key-view', () => follower.ready);

    const inFlight = new InFlight();
    const handle = await bootstrapService({
      module: AuthModule.forRoot({ readiness, registry, logger, authorizer, usage, inFlight }),
      config,
      logger,
      queue: 'auth',
      // Decisions' replies and their usage events leave in the same socket writes.
      nats: nc,
    });
    logger.info({ url: handle.url, prefix: config.natsPrefix }, 'auth listening');

    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        // Stop taking requests first, let running handlers record their usage, then flush it all.
        await handle.close();
        await inFlight.idle(HANDLER_DRAIN_TIMEOUT_MS);
        await usage.flush(config.usageFlushTimeoutMs);
        await drain.stop();
        await releaser.stop();
        await sweeper.stop();
        await follower.stop();
        // Publishes still unacknowledged past the flush were spilled (or logged as lost); stop waiting on them.
        mux.close();
        await nc.close();
        await db.destroy();
        logger.info('auth stopped');
      })();
      return closing;
    };
    return { app: handle.app, url: handle.url, close };
  } catch (error) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw error;
  }
}
