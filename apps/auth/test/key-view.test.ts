import { encodeJson } from '@keyplane/nats';
import { freshDatabase, freshNamespace, waitFor, type FreshDatabase, type FreshNamespace } from '@keyplane/testing';
import { ulid } from 'ulid';
import { Authorizer } from '../src/decide/authorizer.js';
import { issued, permissionsChanged, renamed, revoked, rotated } from './support/key-events.js';
import { Gateway, KeyEventPublisher, startReplica, type Replica } from './support/harness.js';
import { decideRequest } from './support/requests.js';

let database: FreshDatabase;
let nats: FreshNamespace;
let keys: KeyEventPublisher;
let gateway: Gateway;
const running: Replica[] = [];

beforeAll(async () => {
  database = await freshDatabase('auth_key_view');
  nats = freshNamespace();
  keys = await KeyEventPublisher.connect(nats.ns);
  gateway = await Gateway.connect(nats.ns);
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all(running.map((replica) => replica.handle.close()));
  await keys?.close();
  await nats?.cleanup();
  await database?.drop();
});

async function replica(): Promise<Replica> {
  const started = await startReplica(database.url, nats.ns);
  running.push(started);
  return started;
}

async function metric(target: Replica, prefix: string): Promise<number> {
  const text = await (await fetch(`${target.handle.url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(prefix));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** A decision made by one given replica, bypassing the queue group that would pick one for us. */
const decideOn = (target: Replica, keyHash: string) => target.handle.app.get(Authorizer).decide(decideRequest(keyHash, null));

describe('the key view', () => {
  it('is complete when a replica that starts after the events becomes ready', async () => {
    const changed = issued({ permissions: ['FLOWS:READ'] });
    const gone = issued();
    const rolled = issued();
    const rotation = rotated(rolled.keyId, rolled.secret, new Date().toISOString());
    for (const event of [changed.event, gone.event, rolled.event, permissionsChanged(changed.keyId, ['RECORDS:*']), revoked(gone.keyId), rotation.event]) {
      await keys.publish(event);
    }

    const late = await replica();

    const ready = await fetch(`${late.handle.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { nats: true, postgres: true, 'key-view': true } });
    expect(await gateway.decide(changed.secret.hash, 'RECORDS:WRITE')).toMatchObject({ outcome: 'allowed', key: { permissions: ['RECORDS:*'] } });
    expect(await gateway.decide(gone.secret.hash, null)).toMatchObject({ outcome: 'unauthorized', reason: 'revoked' });
    expect(await gateway.decide(rolled.secret.hash, null)).toMatchObject({ outcome: 'unauthorized', reason: 'rotated_out' });
    expect(await gateway.decide(rotation.secret.hash, null)).toMatchObject({ outcome: 'allowed' });
    expect(late.logs.text()).toContain('key view caught up with the key event stream');
  });

  it('puts a revocation in force on every replica within 250 ms of its publish ack', async () => {
    const replicas = [running[0] ?? (await replica()), await replica()];
    const key = issued({ rateLimits: { hour: 1_000_000, day: 1_000_000 } });
    await keys.publish(key.event);
    for (const target of replicas) {
      await waitFor('the key on every replica', async () => (await decideOn(target, key.secret.hash)).decision.outcome === 'allowed', 2000);
    }

    await keys.publish(revoked(key.keyId));
    const acked = performance.now();
    const inForceAfter = await Promise.all(
      replicas.map(async (target) => {
        await waitFor('the revocation', async () => (await decideOn(target, key.secret.hash)).decision.reason === 'revoked', 1000, 1);
        return performance.now() - acked;
      }),
    );

    for (const ms of inForceAfter) expect(ms).toBeLessThan(250);
  });

  it('lets a key work on the very next request after its KeyIssued is stored, even behind a backlog', async () => {
    const busy = issued();
    await keys.publish(busy.event);
    const foundAfterCatchUp = async () =>
      (await Promise.all(running.map((target) => metric(target, 'auth_key_view_misses_total{result="found"')))).reduce((sum, n) => sum + n, 0);
    const found = await foundAfterCatchUp();
    const outcomes: string[] = [];
    // Rounds until one decision came through the catch-up, not from a view that happened to be
    // ahead: a replica that keeps up with 1,000 messages at once is not behind every time.
    for (let round = 0; round < 3 || ((await foundAfterCatchUp()) === found && round < 20); round++) {
      // Published without waiting, so the view is still working through them when the new key's ack comes back.
      const backlog = Array.from({ length: 1000 }, (_, n) => keys.publish(renamed(busy.keyId, `name ${round}.${n}`)));
      const fresh = issued();
      await keys.publish(fresh.event);
      outcomes.push((await gateway.decide(fresh.secret.hash, null)).outcome);
      await Promise.all(backlog);
    }
    expect(outcomes).toEqual(Array(outcomes.length).fill('allowed'));
    expect(await foundAfterCatchUp()).toBeGreaterThan(found);
  });

  it('skips malformed events and unknown versions with a log line, and applies the events after them', async () => {
    const target = running[0] ?? (await replica());
    const later = issued();
    const keyId = later.keyId;
    const wrongHash = { ...later.event, eventId: ulid(), data: { ...later.event.data, secret: { ...later.event.data.secret, secretHash: 'xyz' } } };
    await keys.publishRaw(keyId, new TextEncoder().encode('{not json'), ulid());
    await keys.publishRaw(keyId, encodeJson({ ...later.event, eventId: ulid(), version: 2 }), ulid());
    await keys.publishRaw(keyId, encodeJson({ type: 'KeyExploded', version: 1, keyId }), ulid());
    await keys.publishRaw(keyId, encodeJson(wrongHash), ulid());
    await keys.publish(later.event);

    expect(await decideOn(target, later.secret.hash)).toMatchObject({ decision: { outcome: 'allowed' } });
    const warnings = target.logs.lines.map((line) => JSON.parse(line)).filter((line) => line.level === 40);
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ msg: 'malformed key event; skipped', problem: 'not JSON' }),
        expect.objectContaining({ msg: 'key event of an unknown type or version; skipped', type: 'KeyIssued', version: 2 }),
        expect.objectContaining({ msg: 'key event of an unknown type or version; skipped', type: 'KeyExploded', version: 1 }),
        expect.objectContaining({ msg: 'malformed key event; skipped', problem: 'KeyIssued: data.secret.secretHash: expected a SHA-256 hash in lowercase hex' }),
      ]),
    );
    expect(await metric(target, 'auth_key_events_skipped_total{reason="malformed"')).toBe(2);
    expect(await metric(target, 'auth_key_events_skipped_total{reason="unknown_version"')).toBe(2);
  });
});
