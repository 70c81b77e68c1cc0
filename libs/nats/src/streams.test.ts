import { randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from './connect.js';
import { deleteStreams, ensureStream, lastSequence } from './streams.js';

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const id = randomBytes(4).toString('hex');
const created: string[] = [];

let nc: NatsConnection;

beforeAll(async () => {
  nc = await connectNats({ url: NATS_URL, name: 'streams-test' });
});

afterAll(async () => {
  await deleteStreams(nc, created);
  await nc?.close();
});

/** A stream name and subject space of this file's own. */
function freshStream(label: string) {
  const name = `T${id}_${label.toUpperCase()}`;
  created.push(name);
  return { name, subject: `t${id}.${label}` };
}

async function exists(name: string): Promise<boolean> {
  const jsm = await jetstreamManager(nc);
  return jsm.streams.info(name).then(
    () => true,
    () => false,
  );
}

describe('ensureStream', () => {
  it('creates a missing stream with the given subjects, age and duplicate window', async () => {
    const { name, subject } = freshStream('create');

    await ensureStream(nc, { name, subjects: [`${subject}.>`], maxAgeSeconds: 3600, duplicateWindowSeconds: 30 });

    const { config } = await (await jetstreamManager(nc)).streams.info(name);
    expect(config).toMatchObject({ name, subjects: [`${subject}.>`], retention: 'limits', storage: 'file', max_age: 3600e9, duplicate_window: 30e9 });
  });

  it('keeps messages forever with a two-minute duplicate window by default', async () => {
    const { name, subject } = freshStream('defaults');

    await ensureStream(nc, { name, subjects: [`${subject}.>`] });

    const { config } = await (await jetstreamManager(nc)).streams.info(name);
    expect(config).toMatchObject({ max_age: 0, duplicate_window: 120e9 });
  });

  it('leaves an existing stream and its messages alone', async () => {
    const { name, subject } = freshStream('again');
    await ensureStream(nc, { name, subjects: [`${subject}.>`] });
    await jetstream(nc).publish(`${subject}.a`, new Uint8Array([1]));

    await ensureStream(nc, { name, subjects: [`${subject}.>`] });

    expect(await lastSequence(nc, name)).toBe(1);
  });

  it("leaves an existing stream's max age alone unless the caller owns the limits", async () => {
    const { name, subject } = freshStream('limits');
    await ensureStream(nc, { name, subjects: [`${subject}.>`] });
    await jetstream(nc).publish(`${subject}.a`, new Uint8Array([1]));
    const maxAge = async () => (await (await jetstreamManager(nc)).streams.info(name)).config.max_age;

    await ensureStream(nc, { name, subjects: [`${subject}.>`], maxAgeSeconds: 3600 });
    expect(await maxAge()).toBe(0);

    await ensureStream(nc, { name, subjects: [`${subject}.>`], maxAgeSeconds: 3600 }, { ownsLimits: true });
    expect(await maxAge()).toBe(3600e9);
    expect(await lastSequence(nc, name)).toBe(1);
  });

  it("updates an existing stream's duplicate window only when the caller owns the limits", async () => {
    const { name, subject } = freshStream('window');
    await ensureStream(nc, { name, subjects: [`${subject}.>`] });
    const window = async () => (await (await jetstreamManager(nc)).streams.info(name)).config.duplicate_window;

    await ensureStream(nc, { name, subjects: [`${subject}.>`], duplicateWindowSeconds: 86_400 });
    expect(await window()).toBe(120e9);

    await ensureStream(nc, { name, subjects: [`${subject}.>`], duplicateWindowSeconds: 86_400 }, { ownsLimits: true });
    expect(await window()).toBe(86_400e9);
  });

  it('is safe when replicas call it at the same time', async () => {
    const { name, subject } = freshStream('race');
    const spec = { name, subjects: [`${subject}.>`] };

    await expect(Promise.all([ensureStream(nc, spec), ensureStream(nc, spec), ensureStream(nc, spec)])).resolves.toEqual([undefined, undefined, undefined]);

    expect(await exists(name)).toBe(true);
  });

  it('fails when the stream cannot be created', async () => {
    const taken = freshStream('taken');
    await ensureStream(nc, { name: taken.name, subjects: [`${taken.subject}.>`] });
    const { name } = freshStream('overlap');

    await expect(ensureStream(nc, { name, subjects: [`${taken.subject}.>`] })).rejects.toThrow(/subjects overlap/);
    expect(await exists(name)).toBe(false);
  });
});

describe('lastSequence', () => {
  it('is 0 for an empty stream and counts stored messages, not duplicates', async () => {
    const { name, subject } = freshStream('seq');
    await ensureStream(nc, { name, subjects: [`${subject}.>`] });
    expect(await lastSequence(nc, name)).toBe(0);

    const js = jetstream(nc);
    await js.publish(`${subject}.a`, new Uint8Array([1]), { msgID: 'evt-1' });
    await js.publish(`${subject}.b`, new Uint8Array([2]), { msgID: 'evt-2' });
    await js.publish(`${subject}.a`, new Uint8Array([1]), { msgID: 'evt-1' });

    expect(await lastSequence(nc, name)).toBe(2);
  });

  it('rejects for a stream that does not exist', async () => {
    await expect(lastSequence(nc, `T${id}_NEVER_CREATED`)).rejects.toThrow();
  });
});

describe('deleteStreams', () => {
  it('deletes the named streams and ignores names that do not exist', async () => {
    const one = freshStream('del1');
    const two = freshStream('del2');
    await ensureStream(nc, { name: one.name, subjects: [`${one.subject}.>`] });
    await ensureStream(nc, { name: two.name, subjects: [`${two.subject}.>`] });

    await deleteStreams(nc, [one.name, `T${id}_NEVER_CREATED`, two.name]);

    expect(await exists(one.name)).toBe(false);
    expect(await exists(two.name)).toBe(false);
  });
});
