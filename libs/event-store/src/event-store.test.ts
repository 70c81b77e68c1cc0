import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { createKysely, dropDatabase, ensureDatabase, migrateToLatest } from '@keyplane/database';
import { appendToStream, hasEventsAfter, readAll, readStream, streamVersion } from './event-store.js';
import { ConcurrencyConflict, type NewEvent } from './events.js';
import { eventStoreMigration } from './migration.js';
import type { EventStoreTables } from './schema.js';

const SCHEMA = 'store';
const url = `${process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432'}/kp_event_store_${randomBytes(4).toString('hex')}`;

let root: Kysely<EventStoreTables>;
let db: Kysely<EventStoreTables>;

beforeAll(async () => {
  await ensureDatabase(url);
  root = createKysely<EventStoreTables>({ url, max: 6 });
  await migrateToLatest(root as Kysely<unknown>, SCHEMA, { '0001_event_store': eventStoreMigration(SCHEMA) });
  db = root.withSchema(SCHEMA);
});

afterAll(async () => {
  await root?.destroy();
  await dropDatabase(url);
});

let counter = 0;
function event(type: string, data: unknown = { n: counter }): NewEvent {
  counter += 1;
  return { eventId: `evt-${counter}-${randomBytes(3).toString('hex')}`, type, occurredAt: '2026-11-26T10:00:00.000Z', data };
}

const streamName = () => `stream-${randomBytes(4).toString('hex')}`;

async function headPosition(): Promise<number> {
  const row = await db.selectFrom('events').select((eb) => eb.fn.max('global_position').as('head')).executeTakeFirst();
  return row?.head ?? 0;
}

describe('appendToStream and readStream', () => {
  it('stores events with consecutive stream versions and reads them back in order', async () => {
    const id = streamName();
    const first = await appendToStream(db, id, 0, [event('Opened', { name: 'a' }), event('Renamed', { name: 'b' })]);
    const second = await appendToStream(db, id, 2, [event('Closed', { reason: null })]);

    const stored = await readStream(db, id);
    expect(stored).toEqual([...first, ...second]);
    expect(stored.map((e) => [e.type, e.streamVersion, e.data])).toEqual([
      ['Opened', 1, { name: 'a' }],
      ['Renamed', 2, { name: 'b' }],
      ['Closed', 3, { reason: null }],
    ]);
    expect(stored[0].globalPosition).toBeLessThan(stored[1].globalPosition);
    expect(stored[1].globalPosition).toBeLessThan(stored[2].globalPosition);
    expect(await streamVersion(db, id)).toBe(3);
  });

  it('reads an unknown stream as empty at version 0', async () => {
    const id = streamName();
    expect(await readStream(db, id)).toEqual([]);
    expect(await streamVersion(db, id)).toBe(0);
  });

  it('rejects a stale expected version and writes nothing', async () => {
    const id = streamName();
    await appendToStream(db, id, 0, [event('Opened')]);

    await expect(appendToStream(db, id, 0, [event('Opened')])).rejects.toEqual(new ConcurrencyConflict(id, 0, 1));
    await expect(appendToStream(db, id, 5, [event('Closed')])).rejects.toBeInstanceOf(ConcurrencyConflict);
    expect((await readStream(db, id)).map((e) => e.type)).toEqual(['Opened']);
  });

  it('lets exactly one of two transactions that race for the same version win', async () => {
    const id = streamName();
    const a = await db.startTransaction().execute();
    const b = await db.startTransaction().execute();
    try {
      await appendToStream(a, id, 0, [event('ByA')]);
      // b read version 0 too (a has not committed); its insert waits on a's lock.
      const late = appendToStream(b, id, 0, [event('ByB')]);
      await a.commit().execute();
      await expect(late).rejects.toEqual(new ConcurrencyConflict(id, 0, 1));
    } finally {
      await b.rollback().execute();
    }
    expect((await readStream(db, id)).map((e) => e.type)).toEqual(['ByA']);
  });

  it('reports a reused event id as the unique violation it is, not as a concurrency conflict', async () => {
    const duplicate = event('Opened');
    await appendToStream(db, streamName(), 0, [duplicate]);
    const error = await appendToStream(db, streamName(), 0, [duplicate]).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(ConcurrencyConflict);
    expect(error).toMatchObject({ code: '23505', constraint: 'events_event_id_key' });
  });

  it('appends atomically with the caller’s other writes: a rolled-back transaction leaves no event', async () => {
    const id = streamName();
    await expect(
      db.transaction().execute(async (trx) => {
        await appendToStream(trx, id, 0, [event('Opened')]);
        throw new Error('read model update failed');
      }),
    ).rejects.toThrow('read model update failed');
    expect(await readStream(db, id)).toEqual([]);
  });
});

describe('readAll', () => {
  it('returns events after a position in global order, at most `limit` of them', async () => {
    const head = await headPosition();
    const s1 = streamName();
    const s2 = streamName();
    await appendToStream(db, s1, 0, [event('One')]);
    await appendToStream(db, s2, 0, [event('Two')]);
    await appendToStream(db, s1, 1, [event('Three')]);

    const all = await readAll(db, head, 100);
    expect(all.map((e) => e.type)).toEqual(['One', 'Two', 'Three']);
    expect((await readAll(db, head, 2)).map((e) => e.type)).toEqual(['One', 'Two']);
    expect((await readAll(db, all[1].globalPosition, 10)).map((e) => e.type)).toEqual(['Three']);
  });

  it('is told by hasEventsAfter whether anything committed lies after a position', async () => {
    const head = await headPosition();
    expect(await hasEventsAfter(db, head)).toBe(false);
    const uncommitted = await db.startTransaction().execute();
    await appendToStream(uncommitted, streamName(), 0, [event('NotYet')]);
    expect(await hasEventsAfter(db, head)).toBe(false);
    await uncommitted.rollback().execute();

    const [stored] = await appendToStream(db, streamName(), 0, [event('Now')]);

    expect(await hasEventsAfter(db, head)).toBe(true);
    expect(await hasEventsAfter(db, stored.globalPosition)).toBe(false);
  });

  it('gives positions in commit order: an append waits for one still in flight, so no reader passes a position that commits later', async () => {
    const head = await headPosition();
    const early = await db.startTransaction().execute();
    let committed = false;
    try {
      const [a] = await appendToStream(early, streamName(), 0, [event('TakenFirst')]);
      let laterDone = false;
      const later = appendToStream(db, streamName(), 0, [event('CommittedAfter')]).then((stored) => {
        laterDone = true;
        return stored;
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(laterDone).toBe(false);
      expect(await readAll(db, head, 100)).toEqual([]);

      await early.commit().execute();
      committed = true;
      const [b] = await later;
      expect(a!.globalPosition).toBeLessThan(b!.globalPosition);
      expect((await readAll(db, head, 100)).map((e) => e.type)).toEqual(['TakenFirst', 'CommittedAfter']);
    } finally {
      if (!committed) await early.rollback().execute();
    }
  });

  it('is not held back by a transaction that appends nothing, open anywhere on the server', async () => {
    const head = await headPosition();
    const idle = await db.startTransaction().execute();
    try {
      // A transaction id of its own, as any writer's (a psql session, another service) has.
      await sql`SELECT pg_current_xact_id()`.execute(idle);
      await appendToStream(db, streamName(), 0, [event('NotHeldBack')]);
      expect((await readAll(db, head, 100)).map((e) => e.type)).toEqual(['NotHeldBack']);
    } finally {
      await idle.rollback().execute();
    }
  });
});
