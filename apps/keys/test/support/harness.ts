import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { firstValueFrom, timeout } from 'rxjs';
import type { Actor, Environment, Namespace, Reply, SecretFingerprint } from '@keyplane/contracts';
import { createKysely } from '@keyplane/database';
import { fingerprint, generateKey } from '@keyplane/key-format';
import { connectNats } from '@keyplane/nats';
import type { ServiceHandle } from '@keyplane/runtime';
import { CapturedLogs, freshDatabase, freshNamespace, TEST_NATS_URL, type FreshDatabase } from '@keyplane/testing';
import type { KeysConfig } from '../../src/config.js';
import type { Database } from '../../src/db/schema.js';
import { startKeysService, type KeysServiceOptions } from '../../src/start.js';

/** One test file's world: its own database and NATS namespace, a client, and a look inside. */
export interface KeysTestEnv {
  ns: Namespace;
  database: FreshDatabase;
  /** Reads the service's schema directly, as the assertions need. */
  db: Kysely<Database>;
  nc: NatsConnection;
  client: ClientProxy;
  config(overrides?: Partial<KeysConfig>): KeysConfig;
  start(overrides?: Partial<KeysConfig>, options?: KeysServiceOptions): Promise<ServiceHandle>;
  /** Closes a service this env started, before the env closes (restarts). */
  stop(service: ServiceHandle): Promise<void>;
  send<T>(subject: string, payload: unknown): Promise<Reply<T>>;
  close(): Promise<void>;
}

export async function keysTestEnv(label: string): Promise<KeysTestEnv> {
  const database = await freshDatabase(label);
  const { ns, cleanup } = freshNamespace();
  const root = createKysely<Database>({ url: database.url, max: 3 });
  const nc = await connectNats({ url: TEST_NATS_URL, name: `${label}-test` });
  const client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: TEST_NATS_URL } });
  await client.connect();
  const started: ServiceHandle[] = [];
  // A known admin key keeps the generated one (which is logged on purpose) out of most tests;
  // one per env, so a restarted service finds the key it made before.
  const bootstrapAdminKey = generateKey({ environment: 'live' }).key;

  const config = (overrides: Partial<KeysConfig> = {}): KeysConfig => ({
    natsUrl: TEST_NATS_URL,
    natsPrefix: ns.prefix,
    httpPort: 0,
    httpHost: '127.0.0.1',
    databaseUrl: database.url,
    databasePoolMax: 10,
    keyPrefix: 'tv',
    bootstrapAdminKey,
    logLevel: 'info',
    ...overrides,
  });

  return {
    ns,
    database,
    db: root.withSchema('keys'),
    nc,
    client,
    config,
    async start(overrides, options) {
      const service = await startKeysService(config(overrides), options);
      started.push(service);
      return service;
    },
    async stop(service) {
      started.splice(started.indexOf(service), 1);
      await service.close();
    },
    send<T>(subject: string, payload: unknown) {
      return firstValueFrom(client.send<Reply<T>>(subject, payload).pipe(timeout(10_000)));
    },
    async close() {
      for (const service of started.splice(0)) await service.close();
      await client.close();
      await nc.close();
      await root.destroy();
      await cleanup();
      await database.drop();
    },
  };
}

const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const randomKeyId = (): string =>
  `key_${Array.from(randomBytes(26), (b) => crockford[b % 32]).join('')}`;

/** The key the gateway says is asking; the keys service trusts the gateway's authentication. */
export function actor(accountId: string, permissions: string[] = ['*'], environment: Environment = 'live'): Actor {
  return { keyId: randomKeyId(), accountId, environment, permissions };
}

/** What the gateway does before issuing: make a secret and send only its fingerprint. */
export function newSecret(environment: Environment = 'live'): { key: string; fingerprint: SecretFingerprint } {
  const { key } = generateKey({ environment });
  return { key, fingerprint: fingerprint(key) };
}

export interface StreamMessage {
  seq: number;
  subject: string;
  msgId: string;
  body: unknown;
  raw: string;
}

export async function streamMessages(nc: NatsConnection, stream: string): Promise<StreamMessage[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  const messages: StreamMessage[] = [];
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (m) messages.push({ seq: m.seq, subject: m.subject, msgId: m.header.get('Nats-Msg-Id'), body: m.json(), raw: m.string() });
  }
  return messages;
}

/** Every row of every table in schema `keys`, as text: to prove a secret is stored nowhere. */
export async function dumpKeysSchema(db: Kysely<Database>): Promise<string> {
  const { rows: tables } = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = 'keys'`.execute(db);
  const dumps = await Promise.all(
    tables.map(async ({ table_name }) => {
      const { rows } = await sql<{ row: string }>`select t::text as row from ${sql.table(`keys.${table_name}`)} t`.execute(db);
      return `${table_name}\n${rows.map((r) => r.row).join('\n')}`;
    }),
  );
  return dumps.join('\n');
}

export async function countEvents(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

export { CapturedLogs };
