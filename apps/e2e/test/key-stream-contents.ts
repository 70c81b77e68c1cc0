import type { JetStreamManager } from '@nats-io/jetstream';
import { sql, type Kysely } from 'kysely';
import { waitFor } from '@keyplane/testing';
import { POSITION_HEADER } from '@keyplane/event-store';
import type { Database as KeysDatabase } from '../../keys/src/db/schema.js';

/** An event as the keys store and the key event stream both name it. */
export interface KeyEventAt {
  id: string;
  position: number;
}

/** What the keys store holds, in position order. */
export async function storedKeyEvents(keysDb: Kysely<KeysDatabase>): Promise<KeyEventAt[]> {
  const rows = await keysDb.selectFrom('events').select(['event_id', 'global_position']).orderBy('global_position').execute();
  return rows.map((r) => ({ id: r.event_id, position: Number(r.global_position) }));
}

/** The key event stream's messages as (Nats-Msg-Id, position header), in stream order; throws while the stream is missing. */
export async function keyStreamEvents(jsm: JetStreamManager, stream: string): Promise<KeyEventAt[]> {
  const { state } = await jsm.streams.info(stream);
  const out: KeyEventAt[] = [];
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (m) out.push({ id: m.header.get('Nats-Msg-Id'), position: Number(m.header.get(POSITION_HEADER)) });
  }
  return out;
}

/**
 * Waits (bounded) until the stream holds exactly what the store holds, and returns both for the
 * assertion (the stream as its error's text while it is missing), which shows what differs if not.
 */
export async function keyStreamAndStore(jsm: JetStreamManager, stream: string, keysDb: Kysely<KeysDatabase>, timeoutMs: number) {
  const same = async () => JSON.stringify(await keyStreamEvents(jsm, stream).catch(() => [])) === JSON.stringify(await storedKeyEvents(keysDb));
  await waitFor('the stream to hold every stored event', same, timeoutMs, 100).catch(() => undefined);
  return { stream: await keyStreamEvents(jsm, stream).catch((error: unknown) => String(error)), store: await storedKeyEvents(keysDb) };
}

/**
 * The keys store goes back to just after `position`, as a restore of a backup taken then, or a
 * failover to a copy that lacked the later commits, leaves it: later events and the keys they
 * made gone, the position sequence and the relay's checkpoint as they were then.
 */
export async function storeBackTo(keysDb: Kysely<KeysDatabase>, position: number): Promise<void> {
  const kept = await keysDb.selectFrom('events').select('data').where('global_position', '<=', position).execute();
  const keptKeys = [...new Set(kept.map((row) => (row.data as { keyId: string }).keyId))];
  await keysDb.deleteFrom('events').where('global_position', '>', position).execute();
  await keysDb.deleteFrom('api_keys').where('id', 'not in', keptKeys).execute();
  await keysDb.updateTable('outbox_checkpoints').set({ position }).execute();
  await sql`SELECT setval('keys.events_global_position_seq', ${position})`.execute(keysDb);
}

type Call = (method: string, path: string, key: string) => Promise<{ status: number; body: unknown; headers: Headers }>;

/** What the gateway answers `key` on an endpoint every admin and KEYS:READ key may read: 200, or the refusal whole. */
export async function answerToKey(call: Call, key: string) {
  const answer = await call('GET', '/v1/api-keys?limit=1', key);
  return answer.status === 200 ? { status: 200 } : { status: answer.status, body: answer.body, challenge: answer.headers.get('www-authenticate') };
}
