import { DEFAULT_DATABASE_URL, EnvReader, readCommonConfig, type CommonConfig } from '@keyplane/runtime';

export interface AuthConfig extends CommonConfig {
  databaseUrl: string;
  /** Connections per replica; quota batches and the sweep use them. */
  databasePoolSize: number;
  /** Quota transactions a replica keeps in flight; requests arriving meanwhile wait for the next batch. */
  quotaBatchesInFlight: number;
  /** The largest block of quota a replica leases for a hot key; 0 counts every request in Postgres. */
  quotaLeaseMax: number;
  /** A lease not spent from for this long goes back to Postgres. */
  quotaLeaseIdleMs: number;
  /** Usage events held in memory at most while the broker and Postgres both refuse them. */
  usageQueueCapacity: number;
  /** How long shutdown tries to publish pending usage events before spilling the rest to Postgres. */
  usageFlushTimeoutMs: number;
}

export function loadAuthConfig(env: NodeJS.ProcessEnv): AuthConfig {
  const read = new EnvReader(env);
  return {
    ...readCommonConfig(read, 9082),
    databaseUrl: read.url('DATABASE_URL', DEFAULT_DATABASE_URL, ['postgres:', 'postgresql:']),
    databasePoolSize: read.int('DATABASE_POOL_SIZE', 10, { min: 1, max: 200 }),
    quotaBatchesInFlight: read.int('QUOTA_BATCHES_IN_FLIGHT', 1, { min: 1, max: 64 }),
    quotaLeaseMax: read.int('QUOTA_LEASE_MAX', 256, { min: 0, max: 100_000 }),
    quotaLeaseIdleMs: read.int('QUOTA_LEASE_IDLE_MS', 1000, { min: 100, max: 60_000 }),
    usageQueueCapacity: read.int('USAGE_QUEUE_CAPACITY', 10_000, { min: 100, max: 1_000_000 }),
    usageFlushTimeoutMs: read.int('USAGE_FLUSH_TIMEOUT_MS', 10_000, { min: 0, max: 600_000 }),
  };
}
