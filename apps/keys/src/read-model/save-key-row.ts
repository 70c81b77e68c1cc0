import type { KeysDb } from '../db/schema.js';
import type { IssuedKeyState } from '../key/state.js';
import { rowFromState } from './key-row.js';

/** The inline projection: called in the transaction that appends the key's events. */
export async function saveKeyRow(db: KeysDb, state: IssuedKeyState, version: number): Promise<void> {
  const { id, ...changes } = rowFromState(state, version);
  await db
    .insertInto('api_keys')
    .values({ id, ...changes })
    .onConflict((oc) => oc.column('id').doUpdateSet(changes))
    .execute();
}
