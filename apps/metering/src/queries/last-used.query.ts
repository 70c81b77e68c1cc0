import type { Kysely } from 'kysely';
import type { LastUsed, LastUsedRequest } from '@keyplane/contracts';
import type { Database } from '../db/schema.js';

/** When each of the account's keys was last presented, for the keys that ever were. */
export async function lastUsed(db: Kysely<Database>, request: LastUsedRequest): Promise<LastUsed> {
  if (request.keyIds.length === 0) return {};
  const rows = await db
    .selectFrom('key_last_used')
    .select(['key_id', 'last_used_at'])
    .where('account_id', '=', request.accountId)
    .where('key_id', 'in', request.keyIds)
    .execute();
  return Object.fromEntries(rows.map((row) => [row.key_id, row.last_used_at.toISOString()]));
}
