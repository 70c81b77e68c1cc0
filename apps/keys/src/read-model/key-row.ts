import type { Insertable } from 'kysely';
import type { KeyObject } from '@keyplane/contracts';
import { effectiveStatus } from '../key/key-object.js';
import type { IssuedKeyState } from '../key/state.js';
import type { ApiKeyRow, ApiKeysTable } from '../db/schema.js';

export function rowFromState(state: IssuedKeyState, version: number): Insertable<ApiKeysTable> {
  return {
    id: state.id,
    account_id: state.accountId,
    name: state.name,
    environment: state.environment,
    display_prefix: state.secret.displayPrefix,
    last4: state.secret.last4,
    permissions: state.permissions,
    rate_limit_hour: state.rateLimits.hour,
    rate_limit_day: state.rateLimits.day,
    status: state.status,
    created_at: state.createdAt,
    expires_at: state.expiresAt,
    revoked_at: state.status === 'revoked' ? state.revokedAt : null,
    secret_hash: state.secret.secretHash,
    previous_secret_hash: state.previousSecretHash,
    previous_key_expires_at: state.previousKeyExpiresAt,
    version,
  };
}

export function keyObjectFromRow(row: ApiKeyRow, now: string): KeyObject {
  const expiresAt = iso(row.expires_at);
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    environment: row.environment,
    prefix: row.display_prefix,
    last4: row.last4,
    permissions: row.permissions,
    rateLimits: { hour: row.rate_limit_hour, day: row.rate_limit_day },
    status: effectiveStatus(row.status, expiresAt, now),
    createdAt: row.created_at.toISOString(),
    expiresAt,
    revokedAt: iso(row.revoked_at),
    lastUsedAt: null,
  };
}

const iso = (value: Date | null): string | null => value?.toISOString() ?? null;
