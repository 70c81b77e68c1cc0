import { sql, type Kysely } from 'kysely';

export async function pingDatabase(db: Kysely<unknown>): Promise<boolean> {
  try {
    await sql`SELECT 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
