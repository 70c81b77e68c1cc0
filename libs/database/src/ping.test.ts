import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { dropDatabase, ensureDatabase } from './create-database.js';
import { createKysely } from './kysely.js';
import { pingDatabase } from './ping.js';

const server = process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';
const url = `${server}/kp_db_ping_${randomBytes(4).toString('hex')}`;

beforeAll(() => ensureDatabase(url));
afterAll(() => dropDatabase(url));

describe('pingDatabase', () => {
  it('is true when the database answers', async () => {
    const db = createKysely<unknown>({ url, max: 1 });
    try {
      expect(await pingDatabase(db)).toBe(true);
    } finally {
      await db.destroy();
    }
  });

  it('is false, without throwing, when nothing listens at the address', async () => {
    const db = createKysely<unknown>({ url: 'postgres://postgres@127.0.0.1:1/keyplane', max: 1 });
    try {
      expect(await pingDatabase(db)).toBe(false);
    } finally {
      await db.destroy();
    }
  });

  it('is false when the database does not exist', async () => {
    const db = createKysely<unknown>({ url: `${server}/kp_db_ping_missing_${randomBytes(4).toString('hex')}`, max: 1 });
    try {
      expect(await pingDatabase(db)).toBe(false);
    } finally {
      await db.destroy();
    }
  });

  it('is false once its timeout has passed when the server takes the connection and never answers', async () => {
    // A partition: the connection is open, no byte comes back.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const db = createKysely<unknown>({ url: `postgres://postgres@127.0.0.1:${port}/keyplane`, max: 1 });
    try {
      expect(await pingDatabase(db, 200)).toBe(false);
    } finally {
      for (const socket of sockets) socket.destroy();
      await db.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
