import type { Kysely } from 'kysely';
import type { Alert, AlertsRequest } from '@keyplane/contracts';
import type { Database } from '../db/schema.js';
import { toAlert } from '../alerts/alert-store.js';
import { encodePosition, type Position } from './cursor.js';

/** The account's alerts, newest first (detection time, then id). */
export async function listAlerts(db: Kysely<Database>, request: AlertsRequest, after: Position | null): Promise<{ data: Alert[]; nextCursor: string | null }> {
  let query = db
    .selectFrom('alerts')
    .selectAll()
    .where('account_id', '=', request.accountId)
    .orderBy('detected_at', 'desc')
    .orderBy('id', 'desc')
    .limit(request.limit + 1);
  if (request.keyId) query = query.where('key_id', '=', request.keyId);
  if (request.type) query = query.where('type', '=', request.type);
  if (request.since) query = query.where('detected_at', '>=', new Date(request.since));
  if (after) {
    query = query.where(({ eb, refTuple, tuple }) => eb(refTuple('detected_at', 'id'), '<', tuple(new Date(after.at), after.id)));
  }
  const rows = await query.execute();
  const page = rows.slice(0, request.limit);
  const last = page.at(-1);
  return {
    data: page.map(toAlert),
    nextCursor: rows.length > request.limit && last ? encodePosition('alerts', { at: last.detected_at.toISOString(), id: last.id }) : null,
  };
}
