export * from './create-database.js';
export * from './kysely.js';
export * from './migrate.js';
export * from './ping.js';
