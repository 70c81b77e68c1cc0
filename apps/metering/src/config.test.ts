import { loadMeteringConfig } from './config.js';
import { DEFAULT_THRESHOLDS } from './alerts/thresholds.js';

describe('loadMeteringConfig', () => {
  it('has the documented defaults', () => {
    expect(loadMeteringConfig({})).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      natsPrefix: '',
      httpPort: 9083,
      httpHost: '0.0.0.0',
      logLevel: 'info',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/keyplane',
      databasePoolMax: 10,
      retentionDays: 30,
      retentionSweepIntervalMs: 3_600_000,
      alertWebhookUrl: undefined,
      alertWebhookSecret: undefined,
      webhookDelivery: { maxAttempts: 36, backoffMs: 1000, timeoutMs: 5000 },
      alertDispatchIntervalMs: 1000,
      alertStreamMaxAgeHours: 720,
      ingest: { batchSize: 500, lingerMs: 100, ackWaitMs: 30_000, maxAckPending: 5000, retryDelayMs: 1000, streamMaxAgeHours: 168 },
      thresholds: DEFAULT_THRESHOLDS,
    });
    expect(DEFAULT_THRESHOLDS).toEqual({
      spikeMinRequests: 100,
      spikeFactor: 3,
      spikeMadK: 5,
      spikeMinHistoryHours: 6,
      authFailureThreshold: 20,
      authFailureWindowSeconds: 60,
      permissionProbeThreshold: 10,
      permissionProbeWindowSeconds: 600,
      newSourceMinAgeMinutes: 60,
      newSourceMinRequests: 100,
      newSourceMaxPerHour: 5,
    });
  });

  it('reads the thresholds and the webhook', () => {
    const config = loadMeteringConfig({ ALERT_SPIKE_FACTOR: '2.5', ALERT_AUTH_FAILURE_THRESHOLD: '5', ALERT_WEBHOOK_URL: 'https://hooks.example.com/x', ALERT_WEBHOOK_SECRET: 's' });
    expect(config.thresholds).toMatchObject({ spikeFactor: 2.5, authFailureThreshold: 5 });
    expect(config).toMatchObject({ alertWebhookUrl: 'https://hooks.example.com/x', alertWebhookSecret: 's' });
  });

  it('reads the pool size and the alert stream max age', () => {
    expect(loadMeteringConfig({ DATABASE_POOL_MAX: '4', ALERT_STREAM_MAX_AGE_HOURS: '24' })).toMatchObject({ databasePoolMax: 4, alertStreamMaxAgeHours: 24 });
    expect(loadMeteringConfig({ ALERT_STREAM_MAX_AGE_HOURS: '0' }).alertStreamMaxAgeHours).toBe(0);
    expect(loadMeteringConfig({ ALERT_STREAM_MAX_AGE_HOURS: '87600' }).alertStreamMaxAgeHours).toBe(87_600);
  });

  it('stops on a bad value, naming the variable', () => {
    expect(() => loadMeteringConfig({ DATABASE_POOL_MAX: 'many' })).toThrow('DATABASE_POOL_MAX must be an integer between 2 and 1000, got "many"');
    expect(() => loadMeteringConfig({ ALERT_STREAM_MAX_AGE_HOURS: '23' })).toThrow(
      'ALERT_STREAM_MAX_AGE_HOURS must be 0 (keep alerts forever) or at least 24, the ALERTS stream\'s duplicate window in hours, got "23"',
    );
    expect(() => loadMeteringConfig({ ALERT_STREAM_MAX_AGE_HOURS: '1' })).toThrow('ALERT_STREAM_MAX_AGE_HOURS must be 0 (keep alerts forever) or at least 24');
    expect(() => loadMeteringConfig({ ALERT_STREAM_MAX_AGE_HOURS: '87601' })).toThrow('ALERT_STREAM_MAX_AGE_HOURS must be an integer between 0 and 87600, got "87601"');
    expect(() => loadMeteringConfig({ ALERT_STREAM_MAX_AGE_HOURS: 'month' })).toThrow('ALERT_STREAM_MAX_AGE_HOURS must be an integer between 0 and 87600, got "month"');
    expect(() => loadMeteringConfig({ USAGE_RETENTION_DAYS: '0' })).toThrow('USAGE_RETENTION_DAYS must be an integer between 1 and 36500, got "0"');
    expect(() => loadMeteringConfig({ USAGE_STREAM_MAX_AGE_HOURS: '-1' })).toThrow('USAGE_STREAM_MAX_AGE_HOURS must be an integer between 0 and 87600, got "-1"');
    expect(() => loadMeteringConfig({ ALERT_SPIKE_FACTOR: 'lots' })).toThrow('ALERT_SPIKE_FACTOR must be a positive number, got "lots"');
    expect(() => loadMeteringConfig({ ALERT_WEBHOOK_URL: 'ftp://x?token=abc' })).toThrow('ALERT_WEBHOOK_URL must be an http:// or https:// URL');
  });
});
