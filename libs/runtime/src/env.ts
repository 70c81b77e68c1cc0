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

/** Settings every service reads the same way (DESIGN §9). */
export interface CommonConfig {
  natsUrl: string;
  /** Subject and stream prefix; empty in production, one per test file in tests. */
  natsPrefix: string;
  /** Internal HTTP port for /healthz, /readyz and /metrics; 0 picks a free one. */
  httpPort: number;
  httpHost: string;
}

export function readCommonConfig(env: EnvReader, defaultHttpPort: number): CommonConfig {
  return {
    natsUrl: env.string('NATS_URL', DEFAULT_NATS_URL),
    natsPrefix: env.string('NATS_PREFIX', ''),
    httpPort: env.int('HTTP_PORT', defaultHttpPort, { max: 65535 }),
    httpHost: env.string('HTTP_HOST', '0.0.0.0'),
  };
}
