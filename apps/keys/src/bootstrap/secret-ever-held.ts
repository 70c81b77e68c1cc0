import { sql } from 'kysely';
import type { KeysDb } from '../db/schema.js';

/**
 * Whether a key of the account was ever given this secret hash, at its issue or at a rotation.
 * The read model keeps only a key's current and previous secret, so a secret rotated out twice
 * is in the event store alone. Reads the account's issues and rotations (`events_by_account_type`).
 */
export async function secretEverHeld(db: KeysDb, accountId: string, secretHash: string): Promise<boolean> {
  const row = await db
    .selectFrom('events')
    .select('global_position')
    .where(sql<string>`data->>'accountId'`, '=', accountId)
    .where('type', 'in', ['KeyIssued', 'KeySecretRotated'])
    .where(sql<string>`data->'data'->'secret'->>'secretHash'`, '=', secretHash)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
