import { Migrator, type Kysely, type Migration } from 'kysely';

/**
 * Runs a service's migrations, in the order of their names, with the migration table kept
 * in the service's own schema. Migrator takes a lock, so replicas starting together are safe.
 */
export async function migrateToLatest<DB>(
  db: Kysely<DB>,
  schema: string,
  migrations: Record<string, Migration>,
): Promise<void> {
  const migrator = new Migrator({
    // Migrations are frozen in time and see no typed schema.
    db: db as Kysely<unknown>,
    migrationTableSchema: schema,
    provider: { getMigrations: async () => migrations },
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((result) => result.status === 'Error');
  if (error || failed) {
    const name = failed ? ` (${failed.migrationName})` : '';
    throw new Error(`migrations of schema "${schema}" failed${name}: ${String(error)}`);
  }
}
