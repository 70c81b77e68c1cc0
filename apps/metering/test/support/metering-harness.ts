import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Kysely } from 'kysely';
import { ulid } from 'ulid';
import { usageBatch, usageBatchMessageId, type Namespace, type Reply, type UsageRecorded } from '@keyplane/contracts';
import { createKysely } from '@keyplane/database';
import { connectNats, encodeJson, ensureStream, request } from '@keyplane/nats';
import { CapturedLogs, freshDatabase, freshNamespace, TEST_NATS_URL, waitFor, type FreshDatabase, type FreshNamespace } from '@keyplane/testing';
import type { ServiceHandle } from '@keyplane/runtime';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { loadMeteringConfig, type MeteringConfig } from '../../src/config.js';
import { startMeteringService } from '../../src/start.js';
import { DURABLE_NAME } from '../../src/ingest/usage-consumer.js';
import type { Database } from '../../src/db/schema.js';

/**
 * One metering service on its own database and NATS namespace, with what a test needs to
 * drive it (publish usage events) and look at it (its tables, NATS requests, its logs).
 */
export class MeteringHarness {
  service: ServiceHandle | undefined;
  logs = new CapturedLogs();

  config: MeteringConfig;

  private constructor(
    private readonly env: Record<string, string>,
    readonly ns: Namespace,
    readonly db: Kysely<Database>,
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly client: ClientProxy,
    private readonly database: FreshDatabase,
    private readonly namespace: FreshNamespace,
  ) {
    this.config = loadMeteringConfig(env);
  }

  static async create(label: string, env: Record<string, string> = {}): Promise<MeteringHarness> {
    const database = await freshDatabase(`metering_${label}`);
    const namespace = freshNamespace();
    const serviceEnv = {
      DATABASE_URL: database.url,
      NATS_URL: TEST_NATS_URL,
      NATS_PREFIX: namespace.ns.prefix,
      HTTP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      USAGE_RETENTION_DAYS: '36500',
      INGEST_ACK_WAIT_MS: '2000',
      INGEST_RETRY_DELAY_MS: '100',
      ALERT_DISPATCH_INTERVAL_MS: '50',
      ...env,
    };
    const nc = await connectNats({ url: TEST_NATS_URL, name: `test-${label}` });
    await ensureStream(nc, { name: namespace.ns.streams.usageEvents, subjects: [namespace.ns.subjects.usageEvents] });
    const client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: TEST_NATS_URL } });
    await client.connect();
    const db = createKysely<Database>({ url: database.url, max: 2 }).withSchema('metering');
    return new MeteringHarness(serviceEnv, namespace.ns, db, nc, jetstream(nc), client, database, namespace);
  }

  /** Starts the service, with some settings changed for this run if asked. */
  async start(overrides: Record<string, string> = {}): Promise<ServiceHandle> {
    this.config = loadMeteringConfig({ ...this.env, ...overrides });
    this.service = await startMeteringService(this.config, { logDestination: this.logs });
    return this.service;
  }

  async stop(): Promise<void> {
    await this.service?.close();
    this.service = undefined;
  }

  /** Publishes events bare, one message each (msgID = eventId unless `msgId` says otherwise), as consumers must still read them. */
  async publish(events: readonly UsageRecorded[], msgId: (event: UsageRecorded) => string = (event) => event.eventId): Promise<void> {
    for (let index = 0; index < events.length; index += 200) {
      await Promise.all(events.slice(index, index + 200).map((event) => this.js.publish(this.ns.subjects.usageEvents, encodeJson(event), { msgID: msgId(event) })));
    }
  }

  /** Publishes events as auth does: `UsageBatch` messages of up to `size` events, each with its batch's message id. */
  async publishBatches(events: readonly UsageRecorded[], size: number): Promise<void> {
    for (let index = 0; index < events.length; index += size) {
      const batch = events.slice(index, index + size);
      await this.js.publish(this.ns.subjects.usageEvents, encodeJson(usageBatch(batch)), { msgID: usageBatchMessageId(batch) });
    }
  }

  async publishRaw(payload: string | Uint8Array): Promise<number> {
    const ack = await this.js.publish(this.ns.subjects.usageEvents, typeof payload === 'string' ? new TextEncoder().encode(payload) : payload, { msgID: ulid() });
    return ack.seq;
  }

  /** Waits until the durable consumer has acked everything on the stream. */
  async settled(timeoutMs = 15000): Promise<void> {
    const jsm = await jetstreamManager(this.nc);
    await waitFor(
      'metering to ack every usage event',
      async () => {
        const stream = await jsm.streams.info(this.ns.streams.usageEvents);
        const consumer = await jsm.consumers.info(this.ns.streams.usageEvents, DURABLE_NAME);
        return consumer.ack_floor.stream_seq >= stream.state.last_seq && consumer.num_ack_pending === 0 && consumer.num_pending === 0;
      },
      timeoutMs,
      25,
    );
  }

  /** Asks metering over NATS as the gateway does. */
  ask<T>(subject: string, payload: unknown): Promise<Reply<T>> {
    return request<T>(this.client, subject, payload, 5000);
  }

  async close(): Promise<void> {
    await this.stop();
    await this.client.close();
    await this.db.destroy();
    await this.nc.drain();
    await this.namespace.cleanup();
    await this.database.drop();
  }
}
