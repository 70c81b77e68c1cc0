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

describe('loadGatewayConfig: client limits on the public port', () => {
  it('bounds slow headers and bodies by default, and keeps idle connections longer than a load balancer does', () => {
    expect(loadGatewayConfig({}).clientLimits).toEqual({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 72_000, maxConnections: 0, sendTimeoutMs: 30_000 });
  });

  it('reads each from its variable', () => {
    const env = { CLIENT_HEADERS_TIMEOUT_MS: '1000', CLIENT_REQUEST_TIMEOUT_MS: '2000', CLIENT_KEEP_ALIVE_TIMEOUT_MS: '620000', CLIENT_MAX_CONNECTIONS: '5000', CLIENT_SEND_TIMEOUT_MS: '60000' };
    expect(loadGatewayConfig(env).clientLimits).toEqual({ headersTimeoutMs: 1000, requestTimeoutMs: 2000, keepAliveTimeoutMs: 620_000, maxConnections: 5000, sendTimeoutMs: 60_000 });
  });

  it.each([
    ['CLIENT_HEADERS_TIMEOUT_MS', '0', 'CLIENT_HEADERS_TIMEOUT_MS must be an integer between 100 and 600000, got "0"'],
    ['CLIENT_HEADERS_TIMEOUT_MS', '10s', 'CLIENT_HEADERS_TIMEOUT_MS must be an integer between 100 and 600000, got "10s"'],
    ['CLIENT_REQUEST_TIMEOUT_MS', '-1', 'CLIENT_REQUEST_TIMEOUT_MS must be an integer between 100 and 3600000, got "-1"'],
    ['CLIENT_REQUEST_TIMEOUT_MS', '5000', 'CLIENT_REQUEST_TIMEOUT_MS (5000) must be at least CLIENT_HEADERS_TIMEOUT_MS (10000): the request includes its headers'],
    ['CLIENT_KEEP_ALIVE_TIMEOUT_MS', '0', 'CLIENT_KEEP_ALIVE_TIMEOUT_MS must be an integer between 1000 and 3600000, got "0"'],
    ['CLIENT_KEEP_ALIVE_TIMEOUT_MS', '1.5e3', 'CLIENT_KEEP_ALIVE_TIMEOUT_MS must be an integer between 1000 and 3600000, got "1.5e3"'],
    ['CLIENT_MAX_CONNECTIONS', '-5', 'CLIENT_MAX_CONNECTIONS must be an integer between 0 and 10000000, got "-5"'],
    ['CLIENT_SEND_TIMEOUT_MS', '999', 'CLIENT_SEND_TIMEOUT_MS must be an integer between 1000 and 3600000, got "999"'],
    ['CLIENT_SEND_TIMEOUT_MS', '30s', 'CLIENT_SEND_TIMEOUT_MS must be an integer between 1000 and 3600000, got "30s"'],
  ])('stops start-up naming %s when it is %s', (name, value, message) => {
    expect(() => loadGatewayConfig({ [name]: value })).toThrow(message);
  });
});

describe('loadGatewayConfig: shutdown delay', () => {
  it('closes at once by default, so Ctrl-C on one machine stays instant', () => {
    expect(loadGatewayConfig({}).shutdownDelayMs).toBe(0);
    expect(loadGatewayConfig({ SHUTDOWN_DELAY_MS: '' }).shutdownDelayMs).toBe(0);
  });

  it('reads SHUTDOWN_DELAY_MS', () => {
    expect(loadGatewayConfig({ SHUTDOWN_DELAY_MS: '5000' }).shutdownDelayMs).toBe(5000);
    expect(loadGatewayConfig({ SHUTDOWN_DELAY_MS: '300000' }).shutdownDelayMs).toBe(300_000);
  });

  it.each(['-1', '5s', '1.5', '300001', ' '])('stops start-up naming SHUTDOWN_DELAY_MS when it is "%s"', (value) => {
    expect(() => loadGatewayConfig({ SHUTDOWN_DELAY_MS: value })).toThrow(`SHUTDOWN_DELAY_MS must be an integer between 0 and 300000, got "${value}"`);
  });
});
