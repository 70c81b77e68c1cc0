import { z } from 'zod';
import { badRequest, decodeCursor, encodeCursor, IsoTimestamp, KeyId, type KeyPage, type ListKeysRequest, type ServiceError } from '@keyplane/contracts';
import type { KeysDb } from '../db/schema.js';
import { keyObjectFromRow } from '../read-model/key-row.js';
import { toPage } from './page.js';

const ListCursor = z.tuple([IsoTimestamp, KeyId]);

/** Newest first; ties on createdAt broken by id, so pages never skip or repeat a key. */
export async function listKeys(db: KeysDb, request: ListKeysRequest, now: string): Promise<{ ok: true; page: KeyPage } | { ok: false; error: ServiceError }> {
  const after = request.cursor === undefined ? undefined : decodeCursor(request.cursor, ListCursor);
  if (after === null) return { ok: false, error: badRequest('cursor: not a cursor this query returned') };

  let query = db.selectFrom('api_keys').selectAll().where('account_id', '=', request.actor.accountId);
  if (request.environment) query = query.where('environment', '=', request.environment);
  if (request.status === 'revoked') query = query.where('status', '=', 'revoked');
  if (request.status === 'active') {
    query = query.where('status', '=', 'active').where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', new Date(now))]));
  }
  if (request.status === 'expired') query = query.where('status', '=', 'active').where('expires_at', '<=', new Date(now));
  if (after) query = query.where((eb) => eb(eb.refTuple('created_at', 'id'), '<', eb.tuple(new Date(after[0]), after[1])));

  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(request.limit + 1).execute();
  return {
    ok: true,
    page: toPage(
      rows,
      request.limit,
      (row) => keyObjectFromRow(row, now),
      (row) => encodeCursor([row.created_at.toISOString(), row.id]),
    ),
  };
}
