import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, ensureStream } from '@keyplane/nats';
import { freshNamespace, TEST_NATS_URL } from './fresh-namespace.js';

let nc: NatsConnection;

beforeAll(async () => {
  nc = await connectNats({ url: TEST_NATS_URL, name: 'fresh-namespace-test' });
});

afterAll(async () => {
  await nc?.close();
});

async function streamNames(): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const names: string[] = [];
  for await (const name of jsm.streams.names()) names.push(name);
  return names;
}

describe('freshNamespace', () => {
  it('gives each call a distinct prefix, with subjects and streams under it', () => {
    const prefixes = Array.from({ length: 20 }, () => freshNamespace().ns.prefix);

    expect(new Set(prefixes).size).toBe(20);
    const { ns } = freshNamespace();
    expect(ns.prefix).toMatch(/^t[0-9a-f]{10}$/);
    expect(ns.subjects.auth.decide).toBe(`${ns.prefix}.auth.decide`);
    expect(ns.streams.keyEvents).toBe(`${ns.prefix}_KEY_EVENTS`);
  });

  it('cleanup deletes the streams of its namespace and no other', async () => {
    const mine = freshNamespace();
    const other = freshNamespace();
    await ensureStream(nc, { name: mine.ns.streams.keyEvents, subjects: [mine.ns.subjects.keyEvents.all] });
    await ensureStream(nc, { name: mine.ns.streams.usageEvents, subjects: [mine.ns.subjects.usageEvents] });
    await ensureStream(nc, { name: other.ns.streams.keyEvents, subjects: [other.ns.subjects.keyEvents.all] });
    try {
      await mine.cleanup();

      const names = await streamNames();
      expect(names).not.toContain(mine.ns.streams.keyEvents);
      expect(names).not.toContain(mine.ns.streams.usageEvents);
      expect(names).toContain(other.ns.streams.keyEvents);
    } finally {
      await other.cleanup();
    }
    expect(await streamNames()).not.toContain(other.ns.streams.keyEvents);
  });

  it('cleanup succeeds when the namespace made no streams', async () => {
    await expect(freshNamespace().cleanup()).resolves.toBeUndefined();
  });
});
