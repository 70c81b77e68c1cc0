import { checkNatsTlsFiles, NATS_TLS_VARIABLES, natsTlsFromSettings, type NatsTls } from '@keyplane/nats';

/** Typed reads of environment variables; a bad value stops start-up with the variable's name. */
export class EnvReader {
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  string(name: string, fallback: string): string {
    const value = this.env[name];
    return value === undefined || value === '' ? fallback : value;
  }

  optional(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value === '' ? undefined : value;
  }

  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T {
    const value = this.string(name, fallback);
    if (!(values as readonly string[]).includes(value)) throw new Error(`${name} must be one of ${values.join(', ')}, got "${value}"`);
    return value as T;
  }

  /** The value is never echoed in the error: a URL may carry a password. */
  url(name: string, fallback: string, protocols: readonly string[]): string {
    const value = this.string(name, fallback);
    if (!URL.canParse(value) || !protocols.includes(new URL(value).protocol)) {
      throw new Error(`${name} must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')} (the value is not shown: it may hold a password)`);
    }
    return value;
  }

  int(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    // Decimal digits only: Number() would read " " as 0 and "0x10" as 16.
    const value = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
    }
    return value;
  }
}

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/keyplane';
const DEFAULT_DATABASE_POOL_MAX = 10;

/** Where a service listens, and how much it logs: what every service reads, the demo API included. */
export interface ListenerConfig {
  /** Internal HTTP port for /healthz, /readyz and /metrics; 0 picks a free one. */
  httpPort: number;
  httpHost: string;
  /** pino's level; checked here, as the logger itself is made before the config is read. */
  logLevel: LogLevel;
}

/** Settings every service on NATS reads the same way (DESIGN §9). */
export interface CommonConfig extends ListenerConfig {
  natsUrl: string;
  /** Set when a `NATS_TLS_*` variable is: TLS to NATS is then required (so it is with a `tls://` NATS_URL). */
  natsTls?: NatsTls;
  /** Subject and stream prefix; empty in production, one per test file in tests. */
  natsPrefix: string;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where a service's HTTP port and host are set: `PORT` and `HOST` for the ones clients call (gateway, demo API). */
export interface ListenerVariables {
  port: string;
  host: string;
}

export function readCommonConfig(env: EnvReader, defaultHttpPort: number, listener: ListenerVariables = { port: 'HTTP_PORT', host: 'HTTP_HOST' }): CommonConfig {
  return {
    natsUrl: env.url('NATS_URL', DEFAULT_NATS_URL, ['nats:', 'tls:']),
    natsTls: readNatsTls(env),
    natsPrefix: env.string('NATS_PREFIX', ''),
    ...readListenerConfig(env, defaultHttpPort, listener),
  };
}

/** The `NATS_TLS_*` files, each read once here: one that cannot be used stops start-up naming its variable and path. */
export function readNatsTls(env: EnvReader): NatsTls | undefined {
  const tls = natsTlsFromSettings({
    caFile: env.optional(NATS_TLS_VARIABLES.caFile),
    certFile: env.optional(NATS_TLS_VARIABLES.certFile),
    keyFile: env.optional(NATS_TLS_VARIABLES.keyFile),
  });
  if (tls) checkNatsTlsFiles(tls);
  return tls;
}

/** The listener alone, for a service that never touches NATS (the demo API): a NATS variable it does not use must not stop it. */
export function readListenerConfig(env: EnvReader, defaultHttpPort: number, listener: ListenerVariables): ListenerConfig {
  return {
    // Only the variable the service documents: a stray HTTP_PORT must not stop the gateway.
    httpPort: env.int(listener.port, defaultHttpPort, { max: 65535 }),
    httpHost: env.string(listener.host, '0.0.0.0'),
    logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
  };
}

/** Settings of the services that keep their state in Postgres (keys, auth, metering); the gateway reads none of them. */
export interface DatabaseConfig {
  databaseUrl: string;
  /** Connections a replica's pool opens at most: what one replica may take of Postgres' `max_connections`. */
  databasePoolMax: number;
}

export function readDatabaseConfig(env: EnvReader): DatabaseConfig {
  return {
    databaseUrl: env.url('DATABASE_URL', DEFAULT_DATABASE_URL, ['postgres:', 'postgresql:']),
    // At least 2: keys holds one connection for its bootstrap lock while it queries on another,
    // so a pool of one would hang its start-up for good.
    databasePoolMax: env.int('DATABASE_POOL_MAX', DEFAULT_DATABASE_POOL_MAX, { min: 2, max: 1000 }),
  };
}
