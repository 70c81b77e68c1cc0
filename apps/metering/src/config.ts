import { DEFAULT_USAGE_STREAM_MAX_AGE_HOURS } from '@keyplane/nats';
import { EnvReader, readCommonConfig, readDatabaseConfig, type CommonConfig, type DatabaseConfig } from '@keyplane/runtime';
import { DEFAULT_ALERT_STREAM_MAX_AGE_HOURS, MIN_ALERT_STREAM_MAX_AGE_HOURS } from './alerts/delivery/alert-stream.js';
import { DEFAULT_THRESHOLDS, type AlertThresholds } from './alerts/thresholds.js';
import type { IngestSettings } from './ingest/usage-consumer.js';

export interface WebhookDelivery {
  /** Attempts before a delivery is given up (backoff doubles from backoffMs after each failure). */
  maxAttempts: number;
  backoffMs: number;
  timeoutMs: number;
}

export interface MeteringConfig extends CommonConfig, DatabaseConfig {
  /** Days raw usage events are kept; windows and alerts stay. */
  retentionDays: number;
  retentionSweepIntervalMs: number;
  alertWebhookUrl?: string;
  /** Key of the HMAC-SHA256 signature on each webhook POST. */
  alertWebhookSecret?: string;
  webhookDelivery: WebhookDelivery;
  /** How often pending alert publications and webhook retries are looked for. */
  alertDispatchIntervalMs: number;
  /** Hours the ALERTS stream keeps an alert; 0 keeps them forever. */
  alertStreamMaxAgeHours: number;
  ingest: IngestSettings;
  thresholds: AlertThresholds;
}

/** Metering's configuration from the environment (README lists every variable); a bad value stops start-up naming it. */
export function loadMeteringConfig(source: NodeJS.ProcessEnv = process.env): MeteringConfig {
  const env = new EnvReader(source);
  const alertWebhookUrl = webhookUrl(env.optional('ALERT_WEBHOOK_URL'));
  const alertWebhookSecret = env.optional('ALERT_WEBHOOK_SECRET');
  const d = DEFAULT_THRESHOLDS;
  return {
    ...readCommonConfig(env, 9083),
    ...readDatabaseConfig(env),
    retentionDays: env.int('USAGE_RETENTION_DAYS', 30, { min: 1, max: 36500 }),
    retentionSweepIntervalMs: env.int('USAGE_RETENTION_SWEEP_MS', 3_600_000, { min: 1000 }),
    alertWebhookUrl,
    alertWebhookSecret,
    webhookDelivery: {
      // 36 attempts from 1 s, doubling to an hourly cap, span about a day: a receiver down for a
      // deploy or a night still gets every alert (Stripe retries for three days; 8 gave up after 4 minutes).
      maxAttempts: env.int('ALERT_WEBHOOK_MAX_ATTEMPTS', 36, { min: 1, max: 100 }),
      backoffMs: env.int('ALERT_WEBHOOK_BACKOFF_MS', 1000, { min: 1, max: 3_600_000 }),
      timeoutMs: env.int('ALERT_WEBHOOK_TIMEOUT_MS', 5000, { min: 100, max: 120_000 }),
    },
    alertDispatchIntervalMs: env.int('ALERT_DISPATCH_INTERVAL_MS', 1000, { min: 10, max: 600_000 }),
    alertStreamMaxAgeHours: alertStreamMaxAgeHours(env),
    ingest: {
      batchSize: env.int('INGEST_BATCH_SIZE', 500, { min: 1, max: 2000 }),
      lingerMs: env.int('INGEST_LINGER_MS', 100, { min: 0, max: 1000 }),
      ackWaitMs: env.int('INGEST_ACK_WAIT_MS', 30_000, { min: 1000, max: 3_600_000 }),
      maxAckPending: env.int('INGEST_MAX_ACK_PENDING', 5000, { min: 1, max: 1_000_000 }),
      retryDelayMs: env.int('INGEST_RETRY_DELAY_MS', 1000, { min: 1, max: 60_000 }),
      streamMaxAgeHours: env.int('USAGE_STREAM_MAX_AGE_HOURS', DEFAULT_USAGE_STREAM_MAX_AGE_HOURS, { min: 0, max: 87_600 }),
    },
    thresholds: {
      spikeMinRequests: env.int('ALERT_SPIKE_MIN_REQUESTS', d.spikeMinRequests, { min: 1 }),
      spikeFactor: spikeFactor(source, d.spikeFactor),
      spikeMadK: positiveNumber(source, 'ALERT_SPIKE_MAD_K', d.spikeMadK),
      spikeMinHistoryHours: env.int('ALERT_SPIKE_MIN_HISTORY_HOURS', d.spikeMinHistoryHours, { min: 1, max: 24 }),
      authFailureThreshold: env.int('ALERT_AUTH_FAILURE_THRESHOLD', d.authFailureThreshold, { min: 1 }),
      authFailureWindowSeconds: env.int('ALERT_AUTH_FAILURE_WINDOW_SECONDS', d.authFailureWindowSeconds, { min: 1, max: 86_400 }),
      permissionProbeThreshold: env.int('ALERT_PERMISSION_PROBE_THRESHOLD', d.permissionProbeThreshold, { min: 1 }),
      permissionProbeWindowSeconds: env.int('ALERT_PERMISSION_PROBE_WINDOW_SECONDS', d.permissionProbeWindowSeconds, { min: 1, max: 86_400 }),
      newSourceMinAgeMinutes: env.int('ALERT_NEW_SOURCE_MIN_AGE_MINUTES', d.newSourceMinAgeMinutes, { min: 0 }),
      newSourceMinRequests: env.int('ALERT_NEW_SOURCE_MIN_REQUESTS', d.newSourceMinRequests, { min: 1 }),
      newSourceMaxPerHour: env.int('ALERT_NEW_SOURCE_MAX_PER_HOUR', d.newSourceMaxPerHour, { min: 1, max: 10_000 }),
    },
  };
}

/** nats-server refuses a max age below the duplicate window ("duplicates window can not be larger then max age"). */
function alertStreamMaxAgeHours(env: EnvReader): number {
  const name = 'ALERT_STREAM_MAX_AGE_HOURS';
  const hours = env.int(name, DEFAULT_ALERT_STREAM_MAX_AGE_HOURS, { min: 0, max: 87_600 });
  if (hours > 0 && hours < MIN_ALERT_STREAM_MAX_AGE_HOURS) {
    throw new Error(`${name} must be 0 (keep alerts forever) or at least ${MIN_ALERT_STREAM_MAX_AGE_HOURS}, the ALERTS stream's duplicate window in hours, got "${hours}"`);
  }
  return hours;
}

/** The URL is not echoed in the error: it may carry a token. */
function webhookUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const protocol = URL.canParse(value) ? new URL(value).protocol : undefined;
  if (protocol !== 'http:' && protocol !== 'https:') throw new Error('ALERT_WEBHOOK_URL must be an http:// or https:// URL');
  return value;
}

/**
 * A steady key's hours have no deviation, so the factor alone lifts the bar above its median
 * hour: at 1 or less its ordinary hours would reach it and each raise a usage_spike.
 */
function spikeFactor(source: NodeJS.ProcessEnv, fallback: number): number {
  const value = positiveNumber(source, 'ALERT_SPIKE_FACTOR', fallback);
  if (value <= 1) throw new Error(`ALERT_SPIKE_FACTOR must be more than 1 (times the key's median hour), got "${source.ALERT_SPIKE_FACTOR}"`);
  return value;
}

/** EnvReader reads integers only; the spike factors may be fractional (2.5). */
function positiveNumber(source: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = source[name];
  if (raw === undefined || raw === '') return fallback;
  // Decimal notation only, as for integers: Number() would read "0x10" as 16 and " 3 " as 3.
  const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}
