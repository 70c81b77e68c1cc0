import type { KeysDb } from '../db/schema.js';

/** Whether any key holds this secret hash, as its current secret or as the one it rotated out. */
export async function secretInUse(db: KeysDb, secretHash: string): Promise<boolean> {
  const row = await db
    .selectFrom('api_keys')
    .select('id')
    .where((eb) => eb.or([eb('secret_hash', '=', secretHash), eb('previous_secret_hash', '=', secretHash)]))
    .executeTakeFirst();
  return row !== undefined;
}
