import { randomBytes } from 'node:crypto';
import { dropDatabase, ensureDatabase } from '@keyplane/database';

const serverUrl = process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';

export interface FreshDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A new, empty database per test file, so files run in parallel and reruns start clean. */
export async function freshDatabase(label = 'test'): Promise<FreshDatabase> {
  const name = `kp_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const url = `${serverUrl}/${name}`;
  await ensureDatabase(url);
  return { url, drop: () => dropDatabase(url) };
}
