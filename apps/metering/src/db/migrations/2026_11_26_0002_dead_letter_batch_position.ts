import { type Kysely, type Migration } from 'kysely';

// Frozen: a later change to the schema is a new migration, never an edit of this one.
/** A `UsageBatch` message carries many events, so one stream sequence can set aside several of them. */
export const deadLetterBatchPosition: Migration = {
  async up(db: Kysely<unknown>) {
    const deadLetters = () => db.schema.withSchema('metering').alterTable('dead_letters');
    await deadLetters().addColumn('batch_position', 'integer', (col) => col.notNull().defaultTo(0)).execute();
    await deadLetters().dropConstraint('dead_letters_pkey').execute();
    await deadLetters().addPrimaryKeyConstraint('dead_letters_pk', ['stream_seq', 'batch_position']).execute();
  },
  // Fails while two events of one message are set aside: delete those rows first.
  async down(db: Kysely<unknown>) {
    const deadLetters = () => db.schema.withSchema('metering').alterTable('dead_letters');
    await deadLetters().dropConstraint('dead_letters_pk').execute();
    await deadLetters().dropColumn('batch_position').execute();
    await deadLetters().addPrimaryKeyConstraint('dead_letters_pkey', ['stream_seq']).execute();
  },
};
