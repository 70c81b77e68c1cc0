import { loadAuthConfig } from './config.js';

describe('loadAuthConfig', () => {
  it('uses the defaults of DESIGN §9 and the auth port', () => {
    expect(loadAuthConfig({})).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      natsPrefix: '',
      httpPort: 9082,
      httpHost: '0.0.0.0',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/keyplane',
      databasePoolMax: 10,
      quotaBatchesInFlight: 1,
      quotaLeaseMax: 256,
      quotaLeaseIdleMs: 1000,
      logLevel: 'info',
      usageQueueCapacity: 10000,
      usageFlushTimeoutMs: 10000,
    });
  });

  it('reads every variable', () => {
    const config = loadAuthConfig({
      NATS_URL: 'nats://nats:4222',
      HTTP_PORT: '0',
      DATABASE_URL: 'postgres://db/keyplane',
      DATABASE_POOL_SIZE: '4',
      LOG_LEVEL: 'debug',
      USAGE_QUEUE_CAPACITY: '500',
      USAGE_FLUSH_TIMEOUT_MS: '2500',
      QUOTA_LEASE_MAX: '0',
      QUOTA_LEASE_IDLE_MS: '250',
    });
    expect(config).toMatchObject({
      natsUrl: 'nats://nats:4222',
      httpPort: 0,
      databaseUrl: 'postgres://db/keyplane',
      databasePoolMax: 4,
      logLevel: 'debug',
      usageQueueCapacity: 500,
      usageFlushTimeoutMs: 2500,
      quotaLeaseMax: 0,
      quotaLeaseIdleMs: 250,
    });
  });

  it('sizes its pool by DATABASE_POOL_MAX, or by DATABASE_POOL_SIZE, its older name, which wins when set', () => {
    expect(loadAuthConfig({ DATABASE_POOL_MAX: '3' }).databasePoolMax).toBe(3);
    expect(loadAuthConfig({ DATABASE_POOL_SIZE: '6' }).databasePoolMax).toBe(6);
    expect(loadAuthConfig({ DATABASE_POOL_MAX: '3', DATABASE_POOL_SIZE: '6' }).databasePoolMax).toBe(6);
  });

  it('stops on a bad value, naming the variable', () => {
    expect(() => loadAuthConfig({ DATABASE_POOL_MAX: '1001' })).toThrow('DATABASE_POOL_MAX must be an integer between 2 and 1000, got "1001"');
    expect(() => loadAuthConfig({ DATABASE_POOL_SIZE: 'lots' })).toThrow('DATABASE_POOL_SIZE must be an integer between 1 and 200, got "lots"');
    expect(() => loadAuthConfig({ LOG_LEVEL: 'loud' })).toThrow('LOG_LEVEL must be one of');
  });
});
