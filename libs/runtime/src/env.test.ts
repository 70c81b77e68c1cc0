import { DEFAULT_DATABASE_URL, DEFAULT_NATS_URL, EnvReader, readCommonConfig, readDatabaseConfig } from './env.js';

describe('EnvReader', () => {
  const env = new EnvReader({ NAME: 'keys', EMPTY: '', PORT: '9081', ZERO: '0' });

  it('reads a string, falling back when it is unset or empty', () => {
    expect(env.string('NAME', 'fallback')).toBe('keys');
    expect(env.string('EMPTY', 'fallback')).toBe('fallback');
    expect(env.string('UNSET', 'fallback')).toBe('fallback');
  });

  it('reads an optional string as undefined when it is unset or empty', () => {
    expect(env.optional('NAME')).toBe('keys');
    expect(env.optional('EMPTY')).toBeUndefined();
    expect(env.optional('UNSET')).toBeUndefined();
  });

  it('reads an integer, falling back when it is unset or empty', () => {
    expect(env.int('PORT', 1)).toBe(9081);
    expect(env.int('ZERO', 1)).toBe(0);
    expect(env.int('EMPTY', 7)).toBe(7);
    expect(env.int('UNSET', 7)).toBe(7);
  });

  it.each([
    ['a word', 'many', 'LIMIT must be an integer between 1 and 100, got "many"'],
    ['a fraction', '2.5', 'LIMIT must be an integer between 1 and 100, got "2.5"'],
    ['a value below the minimum', '0', 'LIMIT must be an integer between 1 and 100, got "0"'],
    ['a value above the maximum', '101', 'LIMIT must be an integer between 1 and 100, got "101"'],
    ['a blank value', ' ', 'LIMIT must be an integer between 1 and 100, got " "'],
    ['a padded number', ' 50 ', 'LIMIT must be an integer between 1 and 100, got " 50 "'],
    ['a hexadecimal number', '0x10', 'LIMIT must be an integer between 1 and 100, got "0x10"'],
    ['an exponent', '1e1', 'LIMIT must be an integer between 1 and 100, got "1e1"'],
  ])('refuses %s, naming the variable', (_what, raw, message) => {
    expect(() => new EnvReader({ LIMIT: raw }).int('LIMIT', 10, { min: 1, max: 100 })).toThrow(message);
  });

  it('refuses a negative integer by default', () => {
    expect(() => new EnvReader({ RETRIES: '-1' }).int('RETRIES', 3)).toThrow(
      `RETRIES must be an integer between 0 and ${Number.MAX_SAFE_INTEGER}, got "-1"`,
    );
  });
});

describe('readCommonConfig', () => {
  it('uses the DESIGN §9 defaults when nothing is set', () => {
    expect(readCommonConfig(new EnvReader({}), 9081)).toEqual({
      natsUrl: DEFAULT_NATS_URL,
      natsPrefix: '',
      httpPort: 9081,
      httpHost: '0.0.0.0',
      logLevel: 'info',
    });
    expect(DEFAULT_NATS_URL).toBe('nats://127.0.0.1:4222');
  });

  it('reads NATS_URL, NATS_PREFIX, HTTP_PORT, HTTP_HOST and LOG_LEVEL', () => {
    const env = new EnvReader({ NATS_URL: 'nats://nats:4222', NATS_PREFIX: 't1234', HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'debug' });

    expect(readCommonConfig(env, 9081)).toEqual({ natsUrl: 'nats://nats:4222', natsPrefix: 't1234', httpPort: 0, httpHost: '127.0.0.1', logLevel: 'debug' });
  });

  it('stops on an unknown LOG_LEVEL, naming it', () => {
    expect(() => readCommonConfig(new EnvReader({ LOG_LEVEL: 'verbose' }), 9081)).toThrow(
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
    );
  });

  it('stops on a NATS_URL that is no nats:// or tls:// URL, naming it and never showing it', () => {
    for (const value of ['nats://keys:s3cret@127.0.0.1:notaport', 'http://keys:s3cret@nats:4222', 'nats']) {
      let message = '';
      try {
        readCommonConfig(new EnvReader({ NATS_URL: value }), 9081);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toBe('NATS_URL must be a URL starting with nats:// or tls:// (the value is not shown: it may hold a password)');
    }
  });

  it('stops on a port out of range, naming HTTP_PORT', () => {
    expect(() => readCommonConfig(new EnvReader({ HTTP_PORT: '65536' }), 9081)).toThrow(
      'HTTP_PORT must be an integer between 0 and 65535, got "65536"',
    );
  });
});

describe('readDatabaseConfig', () => {
  it('uses the default URL and a pool of 10 when nothing is set', () => {
    expect(readDatabaseConfig(new EnvReader({}))).toEqual({ databaseUrl: DEFAULT_DATABASE_URL, databasePoolMax: 10 });
  });

  it('reads DATABASE_URL and DATABASE_POOL_MAX', () => {
    expect(readDatabaseConfig(new EnvReader({ DATABASE_URL: 'postgresql://db/k', DATABASE_POOL_MAX: '3' }))).toEqual({ databaseUrl: 'postgresql://db/k', databasePoolMax: 3 });
  });

  it.each(['1', '1001', 'ten', '-5'])('stops on DATABASE_POOL_MAX=%s, naming it', (raw) => {
    expect(() => readDatabaseConfig(new EnvReader({ DATABASE_POOL_MAX: raw }))).toThrow(`DATABASE_POOL_MAX must be an integer between 2 and 1000, got "${raw}"`);
  });

  it('is no common setting: a service without a database does not read DATABASE_POOL_MAX', () => {
    expect(() => readCommonConfig(new EnvReader({ DATABASE_POOL_MAX: 'ten' }), 8080)).not.toThrow();
  });
});
