import { jetstreamManager, RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

export interface StreamSpec {
  name: string;
  subjects: string[];
  /** Seconds to keep messages; 0 keeps them forever. */
  maxAgeSeconds?: number;
  /** Seconds within which a repeated Nats-Msg-Id is dropped as a duplicate. */
  duplicateWindowSeconds?: number;
}

/** Creates the stream if missing; a service that publishes or consumes calls it at start-up. */
export async function ensureStream(nc: NatsConnection, spec: StreamSpec): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const config: Partial<StreamConfig> & { name: string } = {
    name: spec.name,
    subjects: spec.subjects,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: (spec.maxAgeSeconds ?? 0) * 1e9,
    duplicate_window: (spec.duplicateWindowSeconds ?? 120) * 1e9,
  };
  try {
    await jsm.streams.info(spec.name);
  } catch {
    try {
      await jsm.streams.add(config);
    } catch (error) {
      // Another replica created it between our look and our add.
      await jsm.streams.info(spec.name).catch(() => {
        throw error;
      });
    }
  }
}

export async function lastSequence(nc: NatsConnection, stream: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  return info.state.last_seq;
}

export async function deleteStreams(nc: NatsConnection, names: string[]): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await Promise.all(names.map((name) => jsm.streams.delete(name).catch(() => false)));
}
