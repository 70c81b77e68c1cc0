import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** Postgres hands timestamptz back as a Date; we write ISO strings. */
type Timestamp = ColumnType<Date, string | Date, string | Date>;
type Counter = ColumnType<number, number, number>;

/** One row per UsageRecorded event ever ingested (until the retention sweep); event_id makes ingest idempotent. */
export interface UsageEventsTable {
  event_id: string;
  occurred_at: Timestamp;
  key_id: string | null;
  account_id: string | null;
  environment: string | null;
  outcome: string;
  reason: string;
  permission: string | null;
  method: string;
  path: string;
  client_ip: string;
  user_agent: string | null;
  request_id: string;
  hour_used: number | null;
  day_used: number | null;
  hour_limit: number | null;
  day_limit: number | null;
  stream_seq: number;
  received_at: ColumnType<Date, string | undefined, never>;
}

export interface UsageWindowsTable {
  key_id: string;
  granularity: 'hour' | 'day';
  window_start: Timestamp;
  account_id: string | null;
  requests: Counter;
  allowed: Counter;
  forbidden: Counter;
  rate_limited: Counter;
  unauthorized: Counter;
}

export interface KeyLastUsedTable {
  key_id: string;
  account_id: string | null;
  last_used_at: Timestamp;
}

/** The client addresses each key has been used from; the new_source detector's memory. */
export interface KeySourcesTable {
  key_id: string;
  client_ip: string;
  first_seen_at: Timestamp;
  last_seen_at: Timestamp;
  requests: Counter;
}

export interface AlertsTable {
  id: string;
  /** type + subject + window start: the same anomaly in the same window is stored once. */
  dedup_key: string;
  type: string;
  severity: string;
  key_id: string | null;
  account_id: string | null;
  detected_at: Timestamp;
  summary: string;
  evidence: ColumnType<Record<string, unknown>, string, string>;
  created_at: ColumnType<Date, string | undefined, never>;
  /** Null until the alert is on the alerts stream. */
  published_at: ColumnType<Date | null, string | null | undefined, string | null>;
}

/** Webhook deliveries still owed, so a restart resumes them. */
export interface AlertDeliveriesTable {
  alert_id: string;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  delivered_at: ColumnType<Date | null, string | null | undefined, string | null>;
  failed_at: ColumnType<Date | null, string | null | undefined, string | null>;
  last_error: string | null;
}

/** Messages of the usage stream that could not be read, with why. */
export interface DeadLettersTable {
  stream_seq: number;
  /** The event's index in a `UsageBatch` message; 0 for a bare event or a whole unreadable message. */
  batch_position: ColumnType<number, number | undefined, never>;
  raw_payload: string;
  reason: string;
  event_type: string | null;
  event_version: number | null;
  received_at: ColumnType<Date, string | undefined, never>;
}

/** One row: raw events older than `swept_before` have been deleted by the retention sweep. */
export interface RetentionTable {
  singleton: ColumnType<boolean, boolean | undefined, never>;
  swept_before: ColumnType<Date, string, string>;
}

export interface Database {
  usage_events: UsageEventsTable;
  usage_windows: UsageWindowsTable;
  key_last_used: KeyLastUsedTable;
  key_sources: KeySourcesTable;
  alerts: AlertsTable;
  alert_deliveries: AlertDeliveriesTable;
  dead_letters: DeadLettersTable;
  retention: RetentionTable;
}

export type UsageEventRow = Selectable<UsageEventsTable>;
export type NewUsageEventRow = Insertable<UsageEventsTable>;
export type AlertRow = Selectable<AlertsTable>;

export const METERING_SCHEMA = 'metering';
