import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import type { Decision, DecideRequest, KeyEvent, Namespace, Reply } from '@keyplane/contracts';
import { connectNats, encodeJson, ensureStream } from '@keyplane/nats';
import type { ServiceHandle } from '@keyplane/runtime';
import { CapturedLogs, freshDatabase, freshNamespace, TEST_NATS_URL, type FreshDatabase, type FreshNamespace } from '@keyplane/testing';
import { loadAuthConfig } from '../../src/config.js';
import { startAuthService } from '../../src/start.js';
import { decideRequest } from './requests.js';

export interface Replica {
  handle: ServiceHandle;
  logs: CapturedLogs;
}

/** An auth replica on its own free port, on the file's database and namespace. */
export async function startReplica(databaseUrl: string, ns: Namespace, env: NodeJS.ProcessEnv = {}): Promise<Replica> {
  const logs = new CapturedLogs();
  const config = loadAuthConfig({
    DATABASE_URL: databaseUrl,
    NATS_URL: TEST_NATS_URL,
    NATS_PREFIX: ns.prefix,
    HTTP_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    LOG_LEVEL: 'debug',
    ...env,
  });
  return { handle: await startAuthService(config, { logDestination: logs }), logs };
}

/** Plays the keys service: puts key events on the stream, as its outbox relay does. */
export class KeyEventPublisher {
  private constructor(
    readonly nc: NatsConnection,
    private readonly ns: Namespace,
  ) {}

  static async connect(ns: Namespace): Promise<KeyEventPublisher> {
    const nc = await connectNats({ url: TEST_NATS_URL, name: 'test-keys' });
    await ensureStream(nc, { name: ns.streams.keyEvents, subjects: [ns.subjects.keyEvents.all], duplicateWindowSeconds: 86_400 });
    return new KeyEventPublisher(nc, ns);
  }

  /** Resolves with the stream sequence once the event is stored. */
  async publish(event: KeyEvent): Promise<number> {
    return this.publishRaw(event.keyId, encodeJson(event), event.eventId);
  }

  async publishRaw(keyId: string, body: Uint8Array, msgID: string): Promise<number> {
    const ack = await jetstream(this.nc).publish(this.ns.subjects.keyEvents.forKey(keyId), body, { msgID });
    return ack.seq;
  }

  close(): Promise<void> {
    return this.nc.close();
  }
}

/** Asks auth.decide as the gateway does. */
export class Gateway {
  private constructor(
    private readonly client: ClientProxy,
    private readonly ns: Namespace,
  ) {}

  static async connect(ns: Namespace): Promise<Gateway> {
    const client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: TEST_NATS_URL } });
    await client.connect();
    return new Gateway(client, ns);
  }

  ask(payload: unknown): Promise<Reply<Decision>> {
    return firstValueFrom(this.client.send<Reply<Decision>>(this.ns.subjects.auth.decide, payload).pipe(timeout(5000)));
  }

  /** The decision itself; fails the test on an error reply. */
  async decide(keyHash: string, permission: string | null = null, extra: Partial<DecideRequest> = {}): Promise<Decision> {
    const reply = await this.ask(decideRequest(keyHash, permission, extra));
    if (!reply.ok) throw new Error(`auth.decide failed: ${JSON.stringify(reply.error)}`);
    return reply.value;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/**
 * Waits out the last seconds of a UTC hour, so a test that counts requests in one window
 * never sees its burst split across two.
 */
export async function awayFromWindowEdge(marginMs = 3000): Promise<void> {
  const untilNextHour = 3_600_000 - (Date.now() % 3_600_000);
  if (untilNextHour < marginMs) await new Promise((resolve) => setTimeout(resolve, untilNextHour + 50));
}

/** One auth replica with its own database and namespace, a key event publisher and a gateway stand-in. */
export interface Testbed {
  database: FreshDatabase;
  nats: FreshNamespace;
  replica: Replica;
  keys: KeyEventPublisher;
  gateway: Gateway;
  close(): Promise<void>;
}

export async function startTestbed(label: string): Promise<Testbed> {
  const database = await freshDatabase(label);
  const nats = freshNamespace();
  const keys = await KeyEventPublisher.connect(nats.ns);
  const replica = await startReplica(database.url, nats.ns);
  const gateway = await Gateway.connect(nats.ns);
  return {
    database,
    nats,
    replica,
    keys,
    gateway,
    async close() {
      await gateway.close();
      await replica.handle.close();
      await keys.close();
      await nats.cleanup();
      await database.drop();
    },
  };
}
