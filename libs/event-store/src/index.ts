export * from './schema.js';
export * from './migration.js';
export * from './events.js';
export * from './event-store.js';
export * from './outbox-relay.js';
export type { StreamEnds } from './stream-verdict.js';
export type { PublishedEvent } from './stream-end.js';
export * from './jetstream-publisher.js';
export * from './jetstream-outbox-stream.js';
