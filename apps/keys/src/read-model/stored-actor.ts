import type { KeysDb } from '../db/schema.js';
import type { StoredActor } from '../key/acting-key.js';

/** The calling key's row as `actingAs` needs it; undefined when no key has that id. */
export async function loadStoredActor(db: KeysDb, keyId: string): Promise<StoredActor | undefined> {
  const row = await db
    .selectFrom('api_keys')
    .select(['account_id', 'environment', 'permissions', 'status', 'expires_at', 'version', 'secret_hash', 'previous_secret_hash', 'previous_key_expires_at'])
    .where('id', '=', keyId)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    accountId: row.account_id,
    environment: row.environment,
    permissions: row.permissions,
    status: row.status,
    expiresAt: row.expires_at === null ? null : row.expires_at.toISOString(),
    version: row.version,
    secretHash: row.secret_hash,
    previousSecretHash: row.previous_secret_hash,
    previousKeyExpiresAt: row.previous_key_expires_at === null ? null : row.previous_key_expires_at.toISOString(),
  };
}
