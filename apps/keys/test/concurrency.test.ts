import { KeyEvent, type IssuedKey, type KeyObject, type Reply, type RotatedKey } from '@keyplane/contracts';
import { readStream } from '@keyplane/event-store';
import { asEventStore } from '../src/db/as-event-store.js';
import { evolve } from '../src/key/evolve.js';
import { initialState } from '../src/key/state.js';
import { rowFromState } from '../src/read-model/key-row.js';
import { actor, keysTestEnv, newSecret, streamMessages, type KeysTestEnv } from './support/harness.js';

let env: KeysTestEnv;
const admin = actor('acc_acme');
const subjects = () => env.ns.subjects.keys;

beforeAll(async () => {
  env = await keysTestEnv('keys_concurrency');
  await env.start();
});

afterAll(async () => {
  await env?.close();
});

async function issueKey(): Promise<KeyObject> {
  const reply = await env.send<IssuedKey>(subjects().issue, { actor: admin, name: 'raced', environment: 'live', permissions: ['FLOWS:READ'], secret: newSecret().fingerprint });
  if (!reply.ok) throw new Error(JSON.stringify(reply.error));
  return reply.value.key;
}

async function storedEvents(keyId: string): Promise<KeyEvent[]> {
  return (await readStream(asEventStore(env.db), `key-${keyId}`)).map((e) => KeyEvent.parse(e.data));
}

/** The read model row must be exactly what folding the key's stream gives. */
async function expectReadModelMatchesStream(keyId: string, events: KeyEvent[]) {
  const state = events.reduce(evolve, initialState());
  if (state.status === 'absent') throw new Error(`no key ${keyId}`);
  const row = await env.db.selectFrom('api_keys').selectAll().where('id', '=', keyId).executeTakeFirstOrThrow();
  const expected = rowFromState(state, events.length);
  const asStored = {
    ...row,
    created_at: row.created_at.toISOString(),
    expires_at: row.expires_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
    previous_key_expires_at: row.previous_key_expires_at?.toISOString() ?? null,
  };
  expect(asStored).toEqual(expected);
}

const ROUNDS = 8;

describe('two commands on one key at the same time', () => {
  it('rotate and revoke: both decided on the state the other left, nothing lost', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const key = await issueKey();
      const fresh = newSecret();
      const [rotated, revoked] = await Promise.all([
        env.send<RotatedKey>(subjects().rotate, { actor: admin, keyId: key.id, gracePeriodSeconds: 60, secret: fresh.fingerprint }),
        env.send<{ key: KeyObject }>(subjects().revoke, { actor: admin, keyId: key.id, reason: `round ${round}` }),
      ]);
      const events = await storedEvents(key.id);

      expect(revoked).toMatchObject({ ok: true, value: { key: { status: 'revoked' } } });
      if (rotated.ok) {
        // Rotation won the race: revoke was decided on the rotated key, so both are kept, in that order.
        expect(events.map((e) => e.type)).toEqual(['KeyIssued', 'KeySecretRotated', 'KeyRevoked']);
        expect(revoked.ok && revoked.value.key.prefix).toBe(fresh.fingerprint.displayPrefix);
      } else {
        // Revocation won: rotating a revoked key is refused, not applied on top of it.
        expect(rotated).toEqual({ ok: false, error: { status: 409, error: 'Conflict', details: `API key ${key.id} is revoked` } });
        expect(events.map((e) => e.type)).toEqual(['KeyIssued', 'KeyRevoked']);
      }
      await expectReadModelMatchesStream(key.id, events);
    }
  });

  it('two updates of different fields: both apply, neither overwrites the other', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const key = await issueKey();
      const replies: Reply<{ key: KeyObject }>[] = await Promise.all([
        env.send<{ key: KeyObject }>(subjects().update, { actor: admin, keyId: key.id, name: `renamed ${round}` }),
        env.send<{ key: KeyObject }>(subjects().update, { actor: admin, keyId: key.id, rateLimits: { hour: 10 + round } }),
      ]);
      expect(replies.every((r) => r.ok)).toBe(true);

      const events = await storedEvents(key.id);
      expect(events.map((e) => e.type).sort()).toEqual(['KeyIssued', 'KeyRateLimitsChanged', 'KeyRenamed']);
      await expectReadModelMatchesStream(key.id, events);
      const get = await env.send<KeyObject>(subjects().get, { actor: admin, keyId: key.id });
      expect(get).toMatchObject({ ok: true, value: { name: `renamed ${round}`, rateLimits: { hour: 10 + round, day: 10000 } } });
    }
  });

  it('every stored event is on the stream once, in each key’s order', async () => {
    const stored = await env.db.selectFrom('events').select(['event_id', 'stream_id', 'stream_version']).orderBy('global_position').execute();
    const onStream = await streamMessages(env.nc, env.ns.streams.keyEvents);
    expect(onStream.map((m) => m.msgId).sort()).toEqual(stored.map((e) => e.event_id).sort());
    const order = (ids: { keyId: string; eventId: string }[]) => {
      const byKey = new Map<string, string[]>();
      for (const { keyId, eventId } of ids) byKey.set(keyId, [...(byKey.get(keyId) ?? []), eventId]);
      return Object.fromEntries(byKey);
    };
    expect(order(onStream.map((m) => ({ keyId: (m.body as KeyEvent).keyId, eventId: m.msgId })))).toEqual(
      order(stored.map((e) => ({ keyId: e.stream_id.slice('key-'.length), eventId: e.event_id }))),
    );
  });
});
