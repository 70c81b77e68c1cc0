import { sql, type Kysely, type Migration } from 'kysely';

// Frozen. Usage messages the usage stream refused, kept until a replica publishes them: a
// replica killed during a JetStream outage then loses only what it had not written here yet.
export const usageSpill: Migration = {
  async up(db: Kysely<unknown>) {
    // `body` is the `UsageBatch` exactly as it was first sent, and `message_id` its Nats-Msg-Id,
    // so a message published again is the same message; unique, so spilling it twice stores it once.
    await sql`
      CREATE TABLE auth.usage_spill (
        id bigserial PRIMARY KEY,
        message_id text NOT NULL UNIQUE,
        body bytea NOT NULL,
        events integer NOT NULL CHECK (events > 0),
        spilled_at timestamptz NOT NULL DEFAULT now()
      )
    `.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await sql`DROP TABLE auth.usage_spill`.execute(db);
  },
};
