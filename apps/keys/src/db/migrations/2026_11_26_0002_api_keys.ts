import { sql, type Kysely, type Migration } from 'kysely';

// Frozen: later changes get a migration of their own.
export const apiKeys: Migration = {
  async up(db: Kysely<unknown>) {
    const keys = db.schema.withSchema('keys');
    await keys
      .createTable('api_keys')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('account_id', 'text', (col) => col.notNull())
      .addColumn('name', 'text', (col) => col.notNull())
      .addColumn('environment', 'text', (col) => col.notNull().check(sql`environment in ('live', 'test')`))
      .addColumn('display_prefix', 'text', (col) => col.notNull())
      .addColumn('last4', 'text', (col) => col.notNull())
      .addColumn('permissions', sql`text[]`, (col) => col.notNull())
      .addColumn('rate_limit_hour', 'integer', (col) => col.notNull())
      .addColumn('rate_limit_day', 'integer', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull().check(sql`status in ('active', 'revoked')`))
      .addColumn('created_at', 'timestamptz', (col) => col.notNull())
      .addColumn('expires_at', 'timestamptz')
      .addColumn('revoked_at', 'timestamptz')
      // Unique: two keys must never share a secret, even when two issues race.
      .addColumn('secret_hash', 'text', (col) => col.notNull().unique())
      .addColumn('previous_secret_hash', 'text')
      .addColumn('previous_key_expires_at', 'timestamptz')
      .addColumn('version', 'integer', (col) => col.notNull())
      .execute();
    await keys.createIndex('api_keys_by_account').on('api_keys').columns(['account_id', 'created_at desc', 'id desc']).execute();
    await keys
      .createIndex('api_keys_by_account_environment_status')
      .on('api_keys')
      .columns(['account_id', 'environment', 'status', 'created_at desc', 'id desc'])
      .execute();
    await keys.createIndex('api_keys_by_previous_secret_hash').on('api_keys').column('previous_secret_hash').execute();
    // The audit query reads the event store by account, newest first.
    await sql`create index events_by_account on keys.events ((data->>'accountId'), occurred_at desc, global_position desc)`.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await sql`drop index keys.events_by_account`.execute(db);
    await db.schema.withSchema('keys').dropTable('api_keys').execute();
  },
};
