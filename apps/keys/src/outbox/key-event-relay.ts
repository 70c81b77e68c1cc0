import type { Kysely } from 'kysely';
import type { NatsConnection } from '@nats-io/transport-node';
import { Counter, type Registry } from 'prom-client';
import { KeyEvent, type Namespace } from '@keyplane/contracts';
import { jetStreamOutboxStream, jetStreamPublisher, OutboxRelay, type EventStoreTables, type OutboxPublisher } from '@keyplane/event-store';
import type { StreamSpec } from '@keyplane/nats';
import type { Logger } from '@keyplane/observability';

/** The JetStream stream of key lifecycle events; a day of dedup covers any relay restart. */
export function keyEventStream(ns: Namespace): StreamSpec {
  return { name: ns.streams.keyEvents, subjects: [ns.subjects.keyEvents.all], duplicateWindowSeconds: 86400 };
}

export interface KeyEventRelayOptions {
  db: Kysely<EventStoreTables>;
  nc: NatsConnection;
  ns: Namespace;
  logger: Logger;
  registry: Registry;
  pollIntervalMs?: number;
}

/**
 * Publishes a stored key event to `events.keys.<keyId>`. The stored data is the whole v1
 * event; parsing it again gives the body the schema's field order and refuses to publish
 * anything a consumer would reject.
 */
export function keyEventPublisher(nc: NatsConnection, ns: Namespace): OutboxPublisher {
  return jetStreamPublisher({
    nc,
    stream: ns.streams.keyEvents,
    messageOf: (event) => {
      const body = KeyEvent.parse(event.data);
      return { subject: ns.subjects.keyEvents.forKey(body.keyId), body };
    },
  });
}

/** Named after the stream: a new stream (another prefix) starts from what that stream holds. */
export const keyEventRelayName = (ns: Namespace): string => ns.streams.keyEvents;

/**
 * The relay of key events. Postgres is the source of truth: when the stream has lost events it
 * had acknowledged (deleted, purged, NATS restarted on empty storage), the relay makes it anew
 * and publishes every stored event again, so auth replicas, new and running, get the whole history.
 */
export function createKeyEventRelay({ db, nc, ns, logger, registry, pollIntervalMs }: KeyEventRelayOptions): OutboxRelay {
  const rebuilds = new Counter({
    name: 'keys_key_event_stream_rebuilds_total',
    help: 'Times the key event stream had lost events it had acknowledged and was made anew from the event store',
    registers: [registry],
  });
  return new OutboxRelay({
    db,
    publisher: keyEventPublisher(nc, ns),
    stream: jetStreamOutboxStream(nc, keyEventStream(ns)),
    name: keyEventRelayName(ns),
    pollIntervalMs,
    onStreamLoss: ({ checkpoint, onStream }) => {
      rebuilds.inc();
      logger.error(
        { stream: ns.streams.keyEvents, checkpoint, onStream },
        'key event stream lost events it had acknowledged; made it anew, publishing every stored event again',
      );
    },
    onError: (error) => logger.warn({ err: error }, 'key event relay pass failed; retrying'),
  });
}
