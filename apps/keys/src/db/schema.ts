import type { ColumnType, Kysely, Selectable, Transaction } from 'kysely';
import type { Environment } from '@keyplane/contracts';
import type { EventStoreTables } from '@keyplane/event-store';

/** Every table lives in this Postgres schema; no other service reads it. */
export const SCHEMA = 'keys';

type Timestamp = ColumnType<Date, string, string>;
type NullableTimestamp = ColumnType<Date | null, string | null, string | null>;

/** The read model: one row per key, written in the same transaction as the key's events. */
export interface ApiKeysTable {
  id: string;
  account_id: string;
  name: string;
  environment: Environment;
  display_prefix: string;
  last4: string;
  permissions: string[];
  rate_limit_hour: number;
  rate_limit_day: number;
  /** Stored status only; `expired` is derived from expires_at when read. */
  status: 'active' | 'revoked';
  created_at: Timestamp;
  expires_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  secret_hash: string;
  previous_secret_hash: string | null;
  previous_key_expires_at: NullableTimestamp;
  /** The stream version this row reflects. */
  version: number;
}

export type ApiKeyRow = Selectable<ApiKeysTable>;

export interface Database extends EventStoreTables {
  api_keys: ApiKeysTable;
}

export type KeysDb = Kysely<Database> | Transaction<Database>;
