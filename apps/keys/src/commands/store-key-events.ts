import type { Kysely } from 'kysely';
import { KeyEvent } from '@keyplane/contracts';
import { appendToStream, ConcurrencyConflict, type StoredEvent } from '@keyplane/event-store';
import { asEventStore } from '../db/as-event-store.js';
import type { Database, KeysDb } from '../db/schema.js';
import { keyStreamId } from '../key/stream-id.js';
import type { IssuedKeyState } from '../key/state.js';
import { saveKeyRow } from '../read-model/save-key-row.js';
import { secretInUse } from '../read-model/secret-in-use.js';
import { loadStoredActor } from '../read-model/stored-actor.js';

const UNIQUE_VIOLATION = '23505';
const SECRET_HASH_CONSTRAINT = 'api_keys_secret_hash_key';

/** The command's caller has stopped waiting: its transaction is rolled back rather than committed. */
export class PastDeadline extends Error {
  constructor() {
    super('past the caller\'s deadline');
    this.name = 'PastDeadline';
  }
}

/** A new secret whose hash some key already holds: the gateway sent a fingerprint twice. */
export class SecretInUse extends Error {
  constructor() {
    super('secret already in use');
    this.name = 'SecretInUse';
  }
}

/** The calling key and the version of it the command was decided on. */
export interface ActorVersion {
  keyId: string;
  version: number;
}

/**
 * Appends the key's new events and writes its read-model row in one transaction, so a
 * query right after the reply sees the change, and a failed append leaves no trace.
 * Throws ConcurrencyConflict when the stream moved past `expectedVersion`, or the calling
 * key past the version the command was decided on, and PastDeadline, having written nothing,
 * when `inTime` says no just before the commit.
 */
export async function storeKeyEvents(
  db: Kysely<Database>,
  expectedVersion: number,
  events: KeyEvent[],
  state: IssuedKeyState,
  inTime: () => boolean = () => true,
  actor: ActorVersion | null = null,
): Promise<StoredEvent[]> {
  try {
    return await db.transaction().execute(async (trx) => {
      await refuseReusedSecrets(trx, events);
      const stored = await appendToStream(
        asEventStore(trx),
        keyStreamId(state.id),
        expectedVersion,
        events.map((event) => ({ eventId: event.eventId, type: event.type, occurredAt: event.occurredAt, data: KeyEvent.parse(event) })),
      );
      if (actor) await refuseChangedActor(trx, actor);
      await saveKeyRow(trx, state, expectedVersion + events.length);
      // The statements above may have waited on a stalled Postgres for as long as it stalled.
      if (!inTime()) throw new PastDeadline();
      return stored;
    });
  } catch (error) {
    const { code, constraint } = error as { code?: string; constraint?: string };
    // Two requests with the same fingerprint raced past the check below; the unique index caught the second.
    if (code === UNIQUE_VIOLATION && constraint === SECRET_HASH_CONSTRAINT) throw new SecretInUse();
    throw error;
  }
}

/**
 * Appends take turns under the event store's lock until they commit, and every change to a key
 * is an append, so read after it the calling key cannot change before this commits: a
 * revocation or narrowing of the caller that committed since the decision makes it decide again.
 */
async function refuseChangedActor(db: KeysDb, { keyId, version }: ActorVersion): Promise<void> {
  const now = (await loadStoredActor(db, keyId))?.version ?? 0;
  if (now !== version) throw new ConcurrencyConflict(keyStreamId(keyId), version, now);
}

async function refuseReusedSecrets(db: KeysDb, events: KeyEvent[]): Promise<void> {
  for (const event of events) {
    if (event.type !== 'KeyIssued' && event.type !== 'KeySecretRotated') continue;
    if (await secretInUse(db, event.data.secret.secretHash)) throw new SecretInUse();
  }
}
