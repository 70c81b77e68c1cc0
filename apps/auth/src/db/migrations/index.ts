import type { Migration } from 'kysely';
import { quotaWindows } from './2026_11_26_0001_quota_windows.js';
import { consumeQuotaUnits } from './2026_11_26_0002_consume_quota_units.js';
import { consumeQuotaBatch } from './2026_11_26_0003_consume_quota_batch.js';
import { quotaLeases } from './2026_11_26_0004_quota_leases.js';
import { usageSpill } from './2026_11_27_0005_usage_spill.js';

/** Every migration of the `auth` schema, by name; names sort in the order they run. */
export const migrations: Record<string, Migration> = {
  '2026_11_26_0001_quota_windows': quotaWindows,
  '2026_11_26_0002_consume_quota_units': consumeQuotaUnits,
  '2026_11_26_0003_consume_quota_batch': consumeQuotaBatch,
  '2026_11_26_0004_quota_leases': quotaLeases,
  '2026_11_27_0005_usage_spill': usageSpill,
};
