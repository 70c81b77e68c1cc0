export * from './schema.js';
export * from './migration.js';
export * from './events.js';
export * from './event-store.js';
export * from './outbox-relay.js';
export * from './jetstream-publisher.js';
