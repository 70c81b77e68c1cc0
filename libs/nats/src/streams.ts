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

export interface EnsureOptions {
  /**
   * The caller owns the stream's limits: an existing stream whose max age or duplicate window
   * differs from the spec's is updated to it (a stream made by an older version, or an
   * operator's new setting).
   * Only one service may own a stream's limits, or two settings would undo each other.
   */
  ownsLimits?: boolean;
}

/** Creates the stream if missing; a service that publishes or consumes calls it at start-up. */
export async function ensureStream(nc: NatsConnection, spec: StreamSpec, options: EnsureOptions = {}): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const config: Partial<StreamConfig> & { name: string } = {
    name: spec.name,
    subjects: spec.subjects,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: (spec.maxAgeSeconds ?? 0) * 1e9,
    duplicate_window: (spec.duplicateWindowSeconds ?? 120) * 1e9,
  };
  let existing: StreamConfig;
  try {
    existing = (await jsm.streams.info(spec.name)).config;
  } catch {
    try {
      await jsm.streams.add(config);
    } catch (error) {
      // Another replica created it between our look and our add.
      await jsm.streams.info(spec.name).catch(() => {
        throw error;
      });
    }
    return;
  }
  if (options.ownsLimits && (existing.max_age !== config.max_age || existing.duplicate_window !== config.duplicate_window)) {
    await jsm.streams.update(spec.name, { max_age: config.max_age, duplicate_window: config.duplicate_window });
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
