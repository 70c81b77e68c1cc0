import type { Migration } from 'kysely';
import { eventStore } from './2026_11_26_0001_event_store.js';
import { apiKeys } from './2026_11_26_0002_api_keys.js';
import { auditByType } from './2026_11_27_0003_audit_by_type.js';
import { expiredKeys } from './2026_11_27_0004_expired_keys.js';

export const migrations: Record<string, Migration> = {
  '2026_11_26_0001_event_store': eventStore,
  '2026_11_26_0002_api_keys': apiKeys,
  '2026_11_27_0003_audit_by_type': auditByType,
  '2026_11_27_0004_expired_keys': expiredKeys,
};
