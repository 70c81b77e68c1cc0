import { randomBytes } from 'node:crypto';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { coalesceWrites } from './coalesce-writes.js';
import { decodeJson, encodeJson } from './codec.js';

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const subject = `t${randomBytes(4).toString('hex')}.coalesce`;

let receiver: NatsConnection;
const open: NatsConnection[] = [];

beforeAll(async () => {
  receiver = await connect({ servers: NATS_URL });
});

afterAll(async () => {
  await Promise.all(open.map((nc) => nc.close()));
  await receiver?.close();
});

async function sender(coalesced: boolean): Promise<{ nc: NatsConnection; writes: () => number }> {
  const nc = await connect({ servers: NATS_URL, noAsyncTraces: true });
  open.push(nc);
  if (coalesced) coalesceWrites(nc);
  const transport = (nc as unknown as { protocol: { transport: { send(data: Uint8Array): void } } }).protocol.transport;
  let writes = 0;
  const send = transport.send.bind(transport);
  transport.send = (data) => {
    writes++;
    send(data);
  };
  return { nc, writes: () => writes };
}

/** Publishes `count` messages, each from a callback of its own within one turn of the event loop. */
async function publishFromSeparateCallbacks(nc: NatsConnection, count: number, label: string): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, (_, n) => new Promise<void>((resolve) => setImmediate(() => resolve(nc.publish(`${subject}.${label}`, encodeJson({ n })))))),
  );
}

function collect(label: string, count: number): Promise<number[]> {
  const seen: number[] = [];
  return new Promise((resolve) => {
    receiver.subscribe(`${subject}.${label}`, {
      max: count,
      callback: (_error, msg: Msg) => {
        seen.push((decodeJson(msg.data) as { n: number }).n);
        if (seen.length === count) resolve(seen);
      },
    });
  });
}

describe('coalesceWrites', () => {
  it('sends what one turn of the event loop publishes in one write, where nats.js alone writes each', async () => {
    await receiver.flush();
    const plain = await sender(false);
    const coalesced = await sender(true);
    const plainSeen = collect('plain', 50);
    const coalescedSeen = collect('coalesced', 50);
    await receiver.flush();

    const plainBefore = plain.writes();
    const coalescedBefore = coalesced.writes();
    await publishFromSeparateCallbacks(plain.nc, 50, 'plain');
    await publishFromSeparateCallbacks(coalesced.nc, 50, 'coalesced');
    await Promise.all([plain.nc.flush(), coalesced.nc.flush()]);

    expect(plain.writes() - plainBefore).toBeGreaterThanOrEqual(50);
    expect(coalesced.writes() - coalescedBefore).toBeLessThanOrEqual(2);
    const all = Array.from({ length: 50 }, (_, n) => n);
    expect(await plainSeen).toEqual(all);
    expect(await coalescedSeen).toEqual(all);
  });

  it('still writes a message published just before close', async () => {
    const { nc } = await sender(true);
    const seen = collect('last', 1);
    await receiver.flush();
    nc.publish(`${subject}.last`, encodeJson({ n: 7 }));
    await nc.close();
    expect(await seen).toEqual([7]);
  });
});
