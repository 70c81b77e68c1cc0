import { EnvReader, readCommonConfig, readDatabaseConfig, type CommonConfig, type DatabaseConfig } from '@keyplane/runtime';

/** Quota batches and the sweep use the pool's connections (databasePoolMax). */
export interface AuthConfig extends CommonConfig, DatabaseConfig {
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
  const common = readCommonConfig(read, 9082);
  const database = readDatabaseConfig(read);
  return {
    ...common,
    ...database,
    // Auth's own name from before DATABASE_POOL_MAX was common to the services: a deployment
    // that sets it keeps its pool, whatever a shared DATABASE_POOL_MAX says.
    databasePoolMax: read.int('DATABASE_POOL_SIZE', database.databasePoolMax, { min: 1, max: 200 }),
    quotaBatchesInFlight: read.int('QUOTA_BATCHES_IN_FLIGHT', 1, { min: 1, max: 64 }),
    quotaLeaseMax: read.int('QUOTA_LEASE_MAX', 256, { min: 0, max: 100_000 }),
    quotaLeaseIdleMs: read.int('QUOTA_LEASE_IDLE_MS', 1000, { min: 100, max: 60_000 }),
    usageQueueCapacity: read.int('USAGE_QUEUE_CAPACITY', 10_000, { min: 100, max: 1_000_000 }),
    usageFlushTimeoutMs: read.int('USAGE_FLUSH_TIMEOUT_MS', 10_000, { min: 0, max: 600_000 }),
  };
}
