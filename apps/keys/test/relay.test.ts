import type { KeyEvent } from '@keyplane/contracts';
import { OutboxRelay, type OutboxPublisher } from '@keyplane/event-store';
import { waitFor } from '@keyplane/testing';
import { storeKeyEvents } from '../src/commands/store-key-events.js';
import { asEventStore } from '../src/db/as-event-store.js';
import { decide } from '../src/key/commands.js';
import { evolve } from '../src/key/evolve.js';
import { initialState } from '../src/key/state.js';
import { keyEventPublisher, keyEventRelayName } from '../src/outbox/key-event-relay.js';
import { actor, keysTestEnv, newSecret, randomKeyId, streamMessages, type KeysTestEnv } from './support/harness.js';

let env: KeysTestEnv;
const admin = actor('acc_acme');

beforeAll(async () => {
  env = await keysTestEnv('keys_relay');
});

afterAll(async () => {
  await env?.close();
});

/** What a command would have stored had the service died right after its commit. */
async function storeIssuedKeys(count: number): Promise<KeyEvent[]> {
  const stored: KeyEvent[] = [];
  for (let i = 0; i < count; i++) {
    const keyId = randomKeyId();
    const decision = decide(
      {
        type: 'IssueKey',
        data: { keyId, accountId: 'acc_acme', actor: admin, name: `stored ${i}`, environment: 'live', permissions: ['FLOWS:READ'], secret: newSecret().fingerprint },
        metadata: { now: new Date().toISOString(), eventIds: [`evt_relay_${keyId}`] },
      },
      initialState(),
    );
    if (!decision.ok) throw new Error(decision.error.details);
    const state = decision.events.reduce(evolve, initialState());
    if (state.status === 'absent') throw new Error('not issued');
    await storeKeyEvents(env.db, 0, decision.events, state);
    stored.push(...decision.events);
  }
  return stored;
}

async function allStoredEventIds(): Promise<string[]> {
  const rows = await env.db.selectFrom('events').select('event_id').orderBy('global_position').execute();
  return rows.map((r) => r.event_id);
}

/** Waits (bounded) until the stream holds every stored event, then checks each is there exactly once, in order. */
async function expectStreamToHoldEachStoredEventOnce() {
  const stored = await allStoredEventIds();
  await waitFor('every stored event on the stream', async () => (await streamMessages(env.nc, env.ns.streams.keyEvents)).length >= stored.length);
  const onStream = await streamMessages(env.nc, env.ns.streams.keyEvents);
  expect(onStream.map((m) => m.msgId)).toEqual(stored);
}

/** Restarts the service and keeps it up until its relay has caught up. */
async function restartAndExpectEachStoredEventOnce() {
  const service = await env.start();
  try {
    await expectStreamToHoldEachStoredEventOnce();
  } finally {
    await env.stop(service);
  }
}

describe('the key event relay across stops and crashes', () => {
  it('publishes events stored while the service was down when it starts again', async () => {
    const service = await env.start();
    await env.stop(service);
    const whileDown = await storeIssuedKeys(3);
    expect((await streamMessages(env.nc, env.ns.streams.keyEvents)).map((m) => m.msgId)).not.toContain(whileDown[0].eventId);

    await restartAndExpectEachStoredEventOnce();
  });

  it('after a relay crash part-way through a batch, a restart publishes the rest and nothing twice', async () => {
    const stored = await storeIssuedKeys(5);
    const inner = keyEventPublisher(env.nc, env.ns);
    let published = 0;
    const crashing: OutboxPublisher = {
      async publishInOrder(events) {
        const taken = events.slice(0, 2 - published);
        await inner.publishInOrder(taken);
        published += taken.length;
        if (taken.length < events.length) throw new Error('relay crashed');
      },
      lastPublished: () => inner.lastPublished(),
    };
    const errors: unknown[] = [];
    const relay = new OutboxRelay({
      db: asEventStore(env.db),
      publisher: crashing,
      name: keyEventRelayName(env.ns),
      onError: (error) => errors.push(error),
    });
    await relay.start();
    // A pass may find nothing yet while any older transaction in the cluster is open; wait for the crash.
    await waitFor('the relay to crash', () => errors.length > 0);
    await relay.stop();
    expect(errors.map(String)).toContain('Error: relay crashed');
    const partial = (await streamMessages(env.nc, env.ns.streams.keyEvents)).map((m) => m.msgId);
    expect(partial).toContain(stored[1].eventId);
    expect(partial).not.toContain(stored[2].eventId);

    await restartAndExpectEachStoredEventOnce();
  });

  it('when the stream is ahead of the checkpoint (published, checkpoint not committed), a restart leaves each event on the stream once', async () => {
    const stored = await storeIssuedKeys(2);
    const publisher = keyEventPublisher(env.nc, env.ns);
    const rows = await env.db.selectFrom('events').selectAll().where('event_id', 'in', stored.map((e) => e.eventId)).orderBy('global_position').execute();
    await publisher.publishInOrder(
      rows.map((row) => ({ eventId: row.event_id, type: row.type, occurredAt: row.occurred_at.toISOString(), data: row.data, streamId: row.stream_id, streamVersion: row.stream_version, globalPosition: row.global_position })),
    );
    const sequenceBefore = (await streamMessages(env.nc, env.ns.streams.keyEvents)).at(-1)!.seq;

    await restartAndExpectEachStoredEventOnce();
    expect((await streamMessages(env.nc, env.ns.streams.keyEvents)).at(-1)!.seq).toBe(sequenceBefore);
    const checkpoint = await env.db.selectFrom('outbox_checkpoints').select('position').where('name', '=', keyEventRelayName(env.ns)).executeTakeFirstOrThrow();
    expect(checkpoint.position).toBe(rows.at(-1)!.global_position);
  });
});
