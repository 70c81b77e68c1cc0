import type { KeyObject } from '@keyplane/contracts';
import type { KeysDb } from '../db/schema.js';
import { keyObjectFromRow } from '../read-model/key-row.js';

/** Null for an unknown key and for another account's key alike. */
export async function getKey(db: KeysDb, accountId: string, keyId: string, now: string): Promise<KeyObject | null> {
  const row = await db.selectFrom('api_keys').selectAll().where('id', '=', keyId).where('account_id', '=', accountId).executeTakeFirst();
  return row ? keyObjectFromRow(row, now) : null;
}
