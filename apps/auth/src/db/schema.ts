import type { ColumnType } from 'kysely';

/** One fixed quota window of one key: the UTC hour or UTC day starting at `window_start`. */
export interface QuotaWindowsTable {
  key_id: string;
  period: 'hour' | 'day';
  window_start: ColumnType<Date, string, string>;
  used: number;
}

export interface AuthDatabase {
  'auth.quota_windows': QuotaWindowsTable;
}
