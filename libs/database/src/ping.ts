import { sql, type Kysely } from 'kysely';

export async function pingDatabase<DB>(db: Kysely<DB>): Promise<boolean> {
  try {
    await sql`SELECT 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
