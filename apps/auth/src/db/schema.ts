import type { ColumnType, Generated } from 'kysely';

/** One fixed quota window of one key: the UTC hour or UTC day starting at `window_start`. */
export interface QuotaWindowsTable {
  key_id: string;
  period: 'hour' | 'day';
  window_start: ColumnType<Date, string, string>;
  used: number;
}

/** A usage stream message the stream refused, waiting for a replica to publish it (`usage/usage-spill-store.ts`). */
export interface UsageSpillTable {
  id: Generated<number>;
  /** Its Nats-Msg-Id: `usageBatchMessageId` of its events. */
  message_id: string;
  /** The `UsageBatch` JSON as it was first sent. */
  body: Uint8Array;
  events: number;
  spilled_at: Generated<Date>;
}

export interface AuthDatabase {
  'auth.quota_windows': QuotaWindowsTable;
  'auth.usage_spill': UsageSpillTable;
}
