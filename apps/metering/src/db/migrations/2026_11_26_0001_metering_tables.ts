import { sql, type Kysely, type Migration } from 'kysely';

// Frozen: a later change to the schema is a new migration, never an edit of this one.
export const meteringTables: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.createSchema('metering').ifNotExists().execute();
    const schema = db.schema.withSchema('metering');

    await schema
      .createTable('usage_events')
      .addColumn('event_id', 'text', (col) => col.primaryKey())
      .addColumn('occurred_at', 'timestamptz', (col) => col.notNull())
      .addColumn('key_id', 'text')
      .addColumn('account_id', 'text')
      .addColumn('environment', 'text')
      .addColumn('outcome', 'text', (col) => col.notNull())
      .addColumn('reason', 'text', (col) => col.notNull())
      .addColumn('permission', 'text')
      .addColumn('method', 'text', (col) => col.notNull())
      .addColumn('path', 'text', (col) => col.notNull())
      .addColumn('client_ip', 'text', (col) => col.notNull())
      .addColumn('user_agent', 'text')
      .addColumn('request_id', 'text', (col) => col.notNull())
      .addColumn('hour_used', 'bigint')
      .addColumn('day_used', 'bigint')
      .addColumn('hour_limit', 'bigint')
      .addColumn('day_limit', 'bigint')
      .addColumn('stream_seq', 'bigint', (col) => col.notNull())
      .addColumn('received_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .execute();
    // The events query pages a key's events newest first.
    await sql`CREATE INDEX usage_events_key_time ON metering.usage_events (key_id, occurred_at DESC, event_id DESC)`.execute(db);
    // The retention sweep deletes by age.
    await sql`CREATE INDEX usage_events_occurred_at ON metering.usage_events (occurred_at)`.execute(db);
    // The burst detectors count recent failures per client address and per key.
    await sql`CREATE INDEX usage_events_unauthorized_by_ip ON metering.usage_events (client_ip, occurred_at) WHERE outcome = 'unauthorized'`.execute(db);
    await sql`CREATE INDEX usage_events_forbidden_by_key ON metering.usage_events (key_id, occurred_at) WHERE outcome = 'forbidden'`.execute(db);

    await schema
      .createTable('usage_windows')
      .addColumn('key_id', 'text', (col) => col.notNull())
      .addColumn('granularity', 'text', (col) => col.notNull().check(sql`granularity IN ('hour', 'day')`))
      .addColumn('window_start', 'timestamptz', (col) => col.notNull())
      .addColumn('account_id', 'text')
      .addColumn('requests', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('allowed', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('forbidden', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('rate_limited', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('unauthorized', 'bigint', (col) => col.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('usage_windows_pk', ['key_id', 'granularity', 'window_start'])
      .execute();

    await schema
      .createTable('key_last_used')
      .addColumn('key_id', 'text', (col) => col.primaryKey())
      .addColumn('account_id', 'text')
      .addColumn('last_used_at', 'timestamptz', (col) => col.notNull())
      .execute();

    await schema
      .createTable('key_sources')
      .addColumn('key_id', 'text', (col) => col.notNull())
      .addColumn('client_ip', 'text', (col) => col.notNull())
      .addColumn('first_seen_at', 'timestamptz', (col) => col.notNull())
      .addColumn('last_seen_at', 'timestamptz', (col) => col.notNull())
      .addColumn('requests', 'bigint', (col) => col.notNull())
      .addPrimaryKeyConstraint('key_sources_pk', ['key_id', 'client_ip'])
      .execute();

    await schema
      .createTable('alerts')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('dedup_key', 'text', (col) => col.notNull().unique())
      .addColumn('type', 'text', (col) => col.notNull())
      .addColumn('severity', 'text', (col) => col.notNull())
      .addColumn('key_id', 'text')
      .addColumn('account_id', 'text')
      .addColumn('detected_at', 'timestamptz', (col) => col.notNull())
      .addColumn('summary', 'text', (col) => col.notNull())
      .addColumn('evidence', 'jsonb', (col) => col.notNull())
      .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .addColumn('published_at', 'timestamptz')
      .execute();
    await sql`CREATE INDEX alerts_account_time ON metering.alerts (account_id, detected_at DESC, id DESC)`.execute(db);
    await sql`CREATE INDEX alerts_unpublished ON metering.alerts (created_at) WHERE published_at IS NULL`.execute(db);

    await schema
      .createTable('alert_deliveries')
      .addColumn('alert_id', 'text', (col) => col.primaryKey().references('alerts.id').onDelete('cascade'))
      .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('next_attempt_at', 'timestamptz', (col) => col.notNull())
      .addColumn('delivered_at', 'timestamptz')
      .addColumn('failed_at', 'timestamptz')
      .addColumn('last_error', 'text')
      .execute();
    await sql`CREATE INDEX alert_deliveries_due ON metering.alert_deliveries (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL`.execute(db);

    await schema
      .createTable('dead_letters')
      .addColumn('stream_seq', 'bigint', (col) => col.primaryKey())
      .addColumn('raw_payload', 'text', (col) => col.notNull())
      .addColumn('reason', 'text', (col) => col.notNull())
      .addColumn('event_type', 'text')
      .addColumn('event_version', 'integer')
      .addColumn('received_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .execute();
  },
  async down(db: Kysely<unknown>) {
    const schema = db.schema.withSchema('metering');
    for (const table of ['dead_letters', 'alert_deliveries', 'alerts', 'key_sources', 'key_last_used', 'usage_windows', 'usage_events']) {
      await schema.dropTable(table).ifExists().execute();
    }
  },
};
