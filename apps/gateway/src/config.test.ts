import { existsSync } from 'node:fs';
import { loadGatewayConfig } from './config.js';

describe('loadGatewayConfig', () => {
  it('has the DESIGN §9 defaults', () => {
    const config = loadGatewayConfig({});
    expect(config).toMatchObject({
      httpPort: 8080,
      httpHost: '0.0.0.0',
      metricsPort: 9080,
      natsUrl: 'nats://127.0.0.1:4222',
      natsPrefix: '',
      upstreamUrl: 'http://127.0.0.1:8090',
      keyPrefix: 'tv',
      authTimeoutMs: 1000,
      keysTimeoutMs: 5000,
      meteringTimeoutMs: 2000,
      trustedProxies: [],
      logLevel: 'info',
    });
    expect(existsSync(config.routesFile)).toBe(true);
  });

  it('names the variable that is wrong', () => {
    expect(() => loadGatewayConfig({ PORT: 'eighty' })).toThrow('PORT must be an integer');
    expect(() => loadGatewayConfig({ AUTH_TIMEOUT_MS: '0' })).toThrow('AUTH_TIMEOUT_MS must be an integer between 1');
    expect(() => loadGatewayConfig({ METERING_TIMEOUT_MS: '-1' })).toThrow('METERING_TIMEOUT_MS must be an integer between 1');
    expect(() => loadGatewayConfig({ KEY_PREFIX: 'TV' })).toThrow('KEY_PREFIX must be 1-16 lowercase letters or digits');
    expect(() => loadGatewayConfig({ UPSTREAM_URL: 'ftp://x' })).toThrow('UPSTREAM_URL must be an http(s) URL');
    expect(() => loadGatewayConfig({ TRUSTED_PROXIES: '10.0.0.0/8,*' })).toThrow('TRUSTED_PROXIES must list addresses');
  });
});
