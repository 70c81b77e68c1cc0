import type { Kysely } from 'kysely';
import type { EventStoreTables } from '@keyplane/event-store';
import type { KeysDb } from './schema.js';

/**
 * The keys schema holds the event store's tables and more. Kysely's types are invariant in
 * the table map, so the store's functions, typed by their own tables, need this one view.
 */
export const asEventStore = (db: KeysDb): Kysely<EventStoreTables> => db as unknown as Kysely<EventStoreTables>;
