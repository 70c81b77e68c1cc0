import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { jetstream } from '@nats-io/jetstream';
import { ulid } from 'ulid';
import { namespace, usageBatch, usageBatchMessageId, type Outcome, type UsageRecorded } from '@keyplane/contracts';
import { createKysely, dropDatabase } from '@keyplane/database';
import { connectNats, deleteStreams, encodeJson, ensureStream, usageEventStream } from '@keyplane/nats';
import { loadMeteringConfig } from '../config.js';
import type { Database } from '../db/schema.js';
import { startMeteringService } from '../start.js';

// A measurement run by hand from the repository root, never part of the service or the tests:
//   npx tsc -p apps/metering/tsconfig.build.json && node --import ./tools/register-paths.js dist/apps/metering/src/bench/ingest-throughput.js
// Starts metering on a fresh database and namespace, warms it up, then publishes INGEST_EVENTS
// (20,000) current UsageRecorded events over 100 keys and 4 client addresses from a worker
// thread (as auth publishes from its own process) and times until all are stored; then stops
// metering, lets as many pile up on the stream, and times a restarted metering draining them.

const total = Number(process.env.INGEST_EVENTS ?? 20_000);
/** 1: bare events, one per message, the most messages metering can be sent; more: `UsageBatch` messages of that many, as auth sends. */
const perMessage = Number(process.env.INGEST_EVENTS_PER_MESSAGE ?? 1);
const warmUp = 2000;
const keys = Array.from({ length: 100 }, (_, index) => `key_${String(index).padStart(26, '0')}`);
const ips = ['198.51.100.7', '198.51.100.8', '203.0.113.20', '203.0.113.21'];

/** Mostly allowed, with enough 403s, 429s, 401s and unknown keys that every detector has work. */
function syntheticEvent(index: number): UsageRecorded {
  const roll = index % 100;
  const outcome: Outcome = roll < 90 ? 'allowed' : roll < 94 ? 'forbidden' : roll < 96 ? 'rate_limited' : 'unauthorized';
  const keyId = roll === 99 ? null : keys[index % keys.length];
  const valid = keyId !== null && outcome !== 'unauthorized';
  const reason = { allowed: 'ok', forbidden: 'missing_permission', rate_limited: 'hour_limit', unauthorized: keyId === null ? 'unknown_key' : 'expired' }[outcome];
  return {
    type: 'UsageRecorded',
    version: 1,
    eventId: ulid(),
    occurredAt: new Date().toISOString(),
    keyId,
    accountId: keyId === null ? null : `acc_${index % 10}`,
    environment: keyId === null ? null : 'live',
    outcome,
    reason: reason as UsageRecorded['reason'],
    permission: 'FLOWS:READ',
    method: 'GET',
    path: '/v1/flows',
    clientIp: ips[Math.floor(index / 7) % ips.length],
    userAgent: 'ingest-throughput',
    requestId: `req_${ulid()}`,
    hourUsed: valid ? 1 : null,
    dayUsed: valid ? 1 : null,
    hourLimit: valid ? 1000 : null,
    dayLimit: valid ? 10000 : null,
  };
}

interface PublisherData {
  natsUrl: string;
  prefix: string;
}

/** The worker: publishes each range it is asked for, `perMessage` events to a message (async, up to 1000 acks awaited at a time), then answers. */
async function publisher({ natsUrl, prefix }: PublisherData) {
  const subject = namespace(prefix).subjects.usageEvents;
  const nc = await connectNats({ url: natsUrl, name: 'ingest-throughput-publisher' });
  const js = jetstream(nc);
  const message = (events: UsageRecorded[]) =>
    perMessage === 1 ? { body: encodeJson(events[0]), msgID: events[0].eventId } : { body: encodeJson(usageBatch(events)), msgID: usageBatchMessageId(events) };
  parentPort?.on('message', async ({ from, count }: { from: number; count: number }) => {
    let inFlight: Promise<unknown>[] = [];
    for (let index = from; index < from + count; index += perMessage) {
      const events = Array.from({ length: Math.min(perMessage, from + count - index) }, (_, offset) => syntheticEvent(index + offset));
      const { body, msgID } = message(events);
      inFlight.push(js.publish(subject, body, { msgID }));
      if (inFlight.length === 1000) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
    await Promise.all(inFlight);
    parentPort?.postMessage('published');
  });
  parentPort?.postMessage('ready');
}

/** Count and sum of a histogram on /metrics. */
function histogram(metrics: string, name: string): { count: number; sum: number } {
  const value = (suffix: string) => Number(new RegExp(`^${name}_${suffix}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  return { count: value('count'), sum: value('sum') };
}

const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function measure() {
  const run = randomBytes(4).toString('hex');
  const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const databaseUrl = `${process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432'}/kp_metering_ingest_${run}`;
  const ns = namespace(`ingest${run}`);
  const config = loadMeteringConfig({ ...process.env, DATABASE_URL: databaseUrl, NATS_URL: natsUrl, NATS_PREFIX: ns.prefix, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1' });
  const nc = await connectNats({ url: natsUrl, name: 'ingest-throughput' });
  await ensureStream(nc, usageEventStream(ns));
  const worker = new Worker(new URL(import.meta.url), { workerData: { natsUrl, prefix: ns.prefix } satisfies PublisherData });
  const answer = () => new Promise((resolve) => worker.once('message', resolve));
  await answer();
  let service = await startMeteringService(config, { logDestination: discard });
  const db = createKysely<Database>({ url: databaseUrl, max: 1 }).withSchema('metering');
  const stored = async () => Number((await db.selectFrom('usage_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  let published = 0;
  const publish = async (count: number) => {
    worker.postMessage({ from: published, count });
    published += count;
    await answer();
  };
  /** Resolves once every published event is stored, with when (and at what count) new rows were first seen. */
  const allStored = async (before: number) => {
    const deadline = Date.now() + 600_000;
    let first: { at: number; count: number } | undefined;
    let count = before;
    while (count < published) {
      if (Date.now() > deadline) throw new Error(`only ${count} of ${published} events stored after 10 minutes`);
      await pause(5);
      count = await stored();
      if (first === undefined && count > before) first = { at: performance.now(), count };
    }
    return { first: first ?? { at: performance.now(), count }, done: performance.now() };
  };

  try {
    // The first batches of a fresh process and database (JIT, connections, catalog caches) are no steady state.
    await publish(warmUp);
    await allStored(0);

    const liveStart = performance.now();
    const livePublished = publish(total).then(() => performance.now());
    const live = await allStored(warmUp);
    const liveLagMs = live.done - (await livePublished);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();

    await service.close();
    await publish(total);
    service = await startMeteringService(config, { logDestination: discard });
    const backlog = await allStored(published - total);

    const batches = histogram(metrics, 'metering_ingest_batch_size');
    const duration = histogram(metrics, 'metering_ingest_batch_duration_seconds');
    const windows = await db.selectFrom('usage_windows').select((eb) => eb.fn.sum<number>('requests').as('n')).where('granularity', '=', 'hour').executeTakeFirstOrThrow();
    const alerts = await db.selectFrom('alerts').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    const liveSeconds = (live.done - liveStart) / 1000;
    const backlogSeconds = (backlog.done - backlog.first.at) / 1000;
    console.log(
      [
        `${total} events over ${keys.length} keys and ${ips.length} addresses, ${perMessage} per message, after ${warmUp} to warm up (INGEST_BATCH_SIZE=${config.ingest.batchSize})`,
        `live: all stored ${liveSeconds.toFixed(2)} s after the first was published: ${Math.round(total / liveSeconds)} events/s end to end`,
        `  publishing took ${((live.done - liveLagMs - liveStart) / 1000).toFixed(2)} s; the last event was stored ${Math.round(liveLagMs)} ms after the last publish ack`,
        `  batches so far: ${batches.count}, mean ${(batches.sum / batches.count).toFixed(0)} events, mean ${((duration.sum / duration.count) * 1000).toFixed(1)} ms`,
        `backlog: drained in ${backlogSeconds.toFixed(2)} s from the first commit: ${Math.round((published - backlog.first.count) / backlogSeconds)} events/s`,
        `hour windows hold ${Number(windows.n)} requests (${published - published / 100} expected), ${Number(alerts.n)} alerts raised`,
      ].join('\n'),
    );
  } finally {
    await service.close();
    await worker.terminate();
    await db.destroy();
    await deleteStreams(nc, Object.values(ns.streams));
    await nc.close();
    await dropDatabase(databaseUrl);
  }
}

if (isMainThread) await measure();
else await publisher(workerData as PublisherData);
