import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { encodeJson } from './codec.js';
import { connectNats } from './connect.js';
import { RequestMux } from './request-mux.js';
import { publishToStream } from './stream-publish.js';
import { deleteStreams, ensureStream, lastSequence } from './streams.js';

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const id = randomBytes(4).toString('hex');
const stream = { name: `T${id}_MUX`, subject: `t${id}.mux` };

let nc: NatsConnection;
let mux: RequestMux;

beforeAll(async () => {
  nc = await connectNats({ url: NATS_URL, name: 'request-mux-test' });
  mux = new RequestMux(nc);
  await ensureStream(nc, { name: stream.name, subjects: [stream.subject] });
});

afterAll(async () => {
  mux?.close();
  await deleteStreams(nc, [stream.name]);
  await nc?.close();
});

describe('RequestMux', () => {
  it('matches each reply to its request, however many are in flight', async () => {
    const sub = nc.subscribe(`t${id}.echo`, { callback: (_error, msg) => void msg.respond(msg.data) });
    const replies = await Promise.all(Array.from({ length: 200 }, (_, n) => mux.request(`t${id}.echo`, encodeJson({ n }), { timeoutMs: 2000 })));
    expect(replies.map((reply) => reply.json<{ n: number }>().n)).toEqual(Array.from({ length: 200 }, (_, n) => n));
    sub.unsubscribe();
  });

  it('fails at once when nobody listens, and after the timeout when nobody answers', async () => {
    await expect(mux.request(`t${id}.nobody`, encodeJson({}), { timeoutMs: 2000 })).rejects.toThrow(/no responders/);
    const sub = nc.subscribe(`t${id}.silent`, { callback: () => undefined });
    await expect(mux.request(`t${id}.silent`, encodeJson({}), { timeoutMs: 100 })).rejects.toThrow(/no reply on t\w+\.silent within 100 ms/);
    sub.unsubscribe();
  });

  it('lets go of a cancelled request at once, long before its timeout', async () => {
    const sub = nc.subscribe(`t${id}.slow`, { callback: () => undefined });
    await nc.flush();
    const request = mux.send(`t${id}.slow`, encodeJson({}), { timeoutMs: 60_000 });
    expect(mux.waiting).toBe(1);

    request.cancel();

    await expect(request.reply).rejects.toThrow(/request on t\w+\.slow cancelled/);
    expect(mux.waiting).toBe(0);
    sub.unsubscribe();
  });

  it('fails every waiting request at once when closed', async () => {
    const own = new RequestMux(nc);
    const sub = nc.subscribe(`t${id}.never`, { callback: () => undefined });
    await nc.flush();
    const replies = [1, 2, 3].map(() => own.request(`t${id}.never`, encodeJson({}), { timeoutMs: 60_000 }));
    expect(own.waiting).toBe(3);

    own.close();

    for (const reply of replies) await expect(reply).rejects.toThrow('connection closed');
    expect(own.waiting).toBe(0);
    sub.unsubscribe();
  });
});

describe('publishToStream', () => {
  it('stores a message once per id and says when it was a duplicate', async () => {
    const before = await lastSequence(nc, stream.name);
    const first = await publishToStream(mux, stream.subject, encodeJson({ a: 1 }), `msg-${id}-1`, 2000);
    const again = await publishToStream(mux, stream.subject, encodeJson({ a: 1 }), `msg-${id}-1`, 2000);
    expect(first).toEqual({ stream: stream.name, seq: before + 1, duplicate: false });
    expect(again).toEqual({ stream: stream.name, seq: before + 1, duplicate: true });
    expect(await lastSequence(nc, stream.name)).toBe(before + 1);
  });

  it('throws when no stream takes the subject', async () => {
    await expect(publishToStream(mux, `t${id}.nostream`, encodeJson({}), `msg-${id}-2`, 2000)).rejects.toThrow(/no responders/);
  });
});
