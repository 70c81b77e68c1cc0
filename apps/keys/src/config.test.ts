import { loadKeysConfig } from './config.js';

describe('loadKeysConfig', () => {
  it('uses the defaults of DESIGN §9', () => {
    expect(loadKeysConfig({})).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      natsPrefix: '',
      httpPort: 9081,
      httpHost: '0.0.0.0',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/keyplane',
      databasePoolMax: 10,
      keyPrefix: 'tv',
      bootstrapAdminKey: undefined,
      logLevel: 'info',
    });
  });

  it('reads every variable', () => {
    expect(
      loadKeysConfig({
        NATS_URL: 'nats://nats:4222',
        NATS_PREFIX: 'staging',
        HTTP_PORT: '0',
        DATABASE_URL: 'postgres://db/keys',
        DATABASE_POOL_MAX: '3',
        KEY_PREFIX: 'acme',
        BOOTSTRAP_ADMIN_KEY: 'tv_live_x',
        LOG_LEVEL: 'debug',
      }),
    ).toMatchObject({ natsUrl: 'nats://nats:4222', natsPrefix: 'staging', httpPort: 0, databaseUrl: 'postgres://db/keys', databasePoolMax: 3, keyPrefix: 'acme', bootstrapAdminKey: 'tv_live_x', logLevel: 'debug' });
  });

  it('stops on a pool size out of range, naming DATABASE_POOL_MAX', () => {
    expect(() => loadKeysConfig({ DATABASE_POOL_MAX: '0' })).toThrow('DATABASE_POOL_MAX must be an integer between 2 and 1000, got "0"');
  });

  it('stops on a key prefix that no key could carry, naming the variable', () => {
    expect(() => loadKeysConfig({ KEY_PREFIX: 'Bad_Prefix' })).toThrow('KEY_PREFIX must be 1-16 lowercase letters or digits, got "Bad_Prefix"');
  });
});
