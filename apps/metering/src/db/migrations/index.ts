import type { Migration } from 'kysely';
import { meteringTables } from './2026_11_26_0001_metering_tables.js';

export const migrations: Record<string, Migration> = {
  '2026_11_26_0001_metering_tables': meteringTables,
};
