import { NatsRecordBuilder } from '@nestjs/microservices';
import { headers } from '@nats-io/transport-node';
import { KeyEvent, REPLY_WITHIN_HEADER, type IssuedKey, type KeyObject, type RotatedKey } from '@keyplane/contracts';
import { hashKey } from '@keyplane/key-format';
import { readStream } from '@keyplane/event-store';
import { asEventStore } from '../src/db/as-event-store.js';
import type { ServiceHandle } from '@keyplane/runtime';
import { actor, CapturedLogs, countEvents, dumpKeysSchema, keysTestEnv, newSecret, streamMessages, type KeysTestEnv } from './support/harness.js';

const NOW = '2026-11-26T10:00:00.000Z';
const LATER = '2026-11-26T10:05:00.000Z';
let now = new Date(NOW);

let env: KeysTestEnv;
let service: ServiceHandle;
const logs = new CapturedLogs();

beforeAll(async () => {
  env = await keysTestEnv('keys_commands');
  service = await env.start({}, { logDestination: logs, clock: () => now });
});

afterAll(async () => {
  await env?.close();
});

const admin = actor('acc_acme');
const subjects = () => env.ns.subjects.keys;

async function storedEvents(keyId: string): Promise<KeyEvent[]> {
  const stored = await readStream(asEventStore(env.db), `key-${keyId}`);
  return stored.map((e) => KeyEvent.parse(e.data));
}

async function issueKey(overrides: Record<string, unknown> = {}) {
  const secret = newSecret((overrides.environment as 'live' | 'test' | undefined) ?? 'live');
  const reply = await env.send<IssuedKey>(subjects().issue, {
    actor: admin,
    name: 'CI deploy',
    environment: 'live',
    permissions: ['FLOWS:READ'],
    secret: secret.fingerprint,
    ...overrides,
  });
  if (!reply.ok) throw new Error(`issue failed: ${JSON.stringify(reply.error)}`);
  return { key: reply.value.key, secret };
}

describe('issuing a key', () => {
  it('answers the key object, stores one KeyIssued and puts it on the stream exactly once before replying', async () => {
    now = new Date(NOW);
    const secret = newSecret();
    const reply = await env.send<IssuedKey>(subjects().issue, {
      actor: admin,
      name: 'CI deploy',
      environment: 'live',
      permissions: ['FLOWS:READ', 'RECORDS:WRITE'],
      rateLimits: { hour: 50 },
      secret: secret.fingerprint,
    });

    expect(reply.ok).toBe(true);
    const key = reply.ok ? reply.value.key : ({} as KeyObject);
    expect(reply).toEqual({
      ok: true,
      value: {
        key: {
          id: expect.stringMatching(/^key_[0-9A-HJKMNP-TV-Z]{26}$/),
          accountId: 'acc_acme',
          name: 'CI deploy',
          environment: 'live',
          prefix: secret.key.slice(0, 12),
          last4: secret.key.slice(-4),
          permissions: ['FLOWS:READ', 'RECORDS:WRITE'],
          rateLimits: { hour: 50, day: 10000 },
          status: 'active',
          createdAt: NOW,
          expiresAt: null,
          revokedAt: null,
          lastUsedAt: null,
        },
      },
    });

    const [issued, ...more] = await storedEvents(key.id);
    expect(more).toEqual([]);
    expect(issued).toEqual({
      type: 'KeyIssued',
      version: 1,
      eventId: expect.stringMatching(/^evt_/),
      keyId: key.id,
      accountId: 'acc_acme',
      occurredAt: NOW,
      actor: admin.keyId,
      data: {
        name: 'CI deploy',
        environment: 'live',
        permissions: ['FLOWS:READ', 'RECORDS:WRITE'],
        rateLimits: { hour: 50, day: 10000 },
        expiresAt: null,
        secret: { secretHash: hashKey(secret.key), displayPrefix: secret.key.slice(0, 12), last4: secret.key.slice(-4) },
      },
    });

    // No waiting: the reply promised the event was already on the stream.
    const onStream = (await streamMessages(env.nc, env.ns.streams.keyEvents)).filter((m) => m.msgId === issued.eventId);
    expect(onStream).toEqual([
      { seq: expect.any(Number), subject: `${env.ns.prefix}.events.keys.${key.id}`, msgId: issued.eventId, body: issued, raw: expect.any(String) },
    ]);

    const row = await env.db.selectFrom('api_keys').selectAll().where('id', '=', key.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ account_id: 'acc_acme', status: 'active', secret_hash: hashKey(secret.key), previous_secret_hash: null, version: 1 });
  });

  it('never stores, publishes or logs the secret', async () => {
    const { secret } = await issueKey({ name: 'secret check' });
    const random = secret.key.slice('tv_live_'.length);
    const places = {
      database: await dumpKeysSchema(env.db),
      stream: (await streamMessages(env.nc, env.ns.streams.keyEvents)).map((m) => m.raw).join('\n'),
      logs: logs.text(),
    };
    for (const [where, text] of Object.entries(places)) {
      expect({ where, holdsSecret: text.includes(secret.key) || text.includes(random) }).toEqual({ where, holdsSecret: false });
    }
    expect(places.database).toContain(hashKey(secret.key));
  });

  it('stores a test key with the grant rule applied and an expiry', async () => {
    now = new Date(NOW);
    const { key } = await issueKey({ environment: 'test', permissions: ['FLOWS:*'], expiresAt: '2026-12-01T00:00:00+01:00' });
    expect(key).toMatchObject({ environment: 'test', prefix: expect.stringMatching(/^tv_test_/), permissions: ['FLOWS:*'], expiresAt: '2026-11-30T23:00:00.000Z' });
  });

  it('refuses a fingerprint that another key already holds, storing nothing', async () => {
    const { secret } = await issueKey();
    const before = await countEvents(env.db);
    const reply = await env.send(subjects().issue, { actor: admin, name: 'copy', environment: 'live', permissions: ['FLOWS:READ'], secret: secret.fingerprint });
    expect(reply).toEqual({ ok: false, error: { status: 409, error: 'Conflict', details: 'secret: already in use by an API key' } });
    expect(await countEvents(env.db)).toBe(before);
  });
});

describe('rotating, updating and revoking', () => {
  it('rotates: a new secret, the old one valid through the grace period', async () => {
    now = new Date(NOW);
    const { key, secret: old } = await issueKey();
    now = new Date(LATER);
    const fresh = newSecret();
    const reply = await env.send<RotatedKey>(subjects().rotate, { actor: admin, keyId: key.id, gracePeriodSeconds: 3600, secret: fresh.fingerprint });

    expect(reply).toEqual({
      ok: true,
      value: { key: { ...key, prefix: fresh.key.slice(0, 12), last4: fresh.key.slice(-4) }, previousKeyExpiresAt: '2026-11-26T11:05:00.000Z' },
    });
    const events = await storedEvents(key.id);
    expect(events.map((e) => e.type)).toEqual(['KeyIssued', 'KeySecretRotated']);
    expect(events[1].data).toEqual({ secret: fresh.fingerprint, previousSecretHash: hashKey(old.key), previousKeyExpiresAt: '2026-11-26T11:05:00.000Z' });
    const row = await env.db.selectFrom('api_keys').selectAll().where('id', '=', key.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ secret_hash: hashKey(fresh.key), previous_secret_hash: hashKey(old.key), version: 2 });
    expect(row.previous_key_expires_at?.toISOString()).toBe('2026-11-26T11:05:00.000Z');
    const published = (await streamMessages(env.nc, env.ns.streams.keyEvents)).map((m) => m.msgId);
    expect(published).toContain(events[1].eventId);
  });

  it('updates only what changes, one event per field', async () => {
    const { key } = await issueKey();
    const reply = await env.send<{ key: KeyObject }>(subjects().update, {
      actor: admin,
      keyId: key.id,
      name: 'nightly',
      permissions: ['FLOWS:READ'],
      rateLimits: { day: 20000 },
    });
    expect(reply).toEqual({ ok: true, value: { key: { ...key, name: 'nightly', rateLimits: { hour: 1000, day: 20000 } } } });
    expect((await storedEvents(key.id)).map((e) => e.type)).toEqual(['KeyIssued', 'KeyRenamed', 'KeyRateLimitsChanged']);

    const again = await env.send<{ key: KeyObject }>(subjects().update, { actor: admin, keyId: key.id, name: 'nightly' });
    expect(again).toEqual(reply);
    expect(await storedEvents(key.id)).toHaveLength(3);
  });

  it('revokes once; revoking again answers the same and stores nothing', async () => {
    now = new Date(NOW);
    const { key } = await issueKey();
    now = new Date(LATER);
    const reply = await env.send<{ key: KeyObject }>(subjects().revoke, { actor: admin, keyId: key.id, reason: 'leaked' });
    expect(reply).toEqual({ ok: true, value: { key: { ...key, status: 'revoked', revokedAt: LATER } } });
    expect(await env.send(subjects().revoke, { actor: admin, keyId: key.id })).toEqual(reply);
    const events = await storedEvents(key.id);
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ['KeyIssued', expect.anything()],
      ['KeyRevoked', { reason: 'leaked' }],
    ]);
  });

  it('refuses to rotate or update a revoked key', async () => {
    const { key } = await issueKey();
    await env.send(subjects().revoke, { actor: admin, keyId: key.id });
    const revoked = { ok: false, error: { status: 409, error: 'Conflict', details: `API key ${key.id} is revoked` } };
    expect(await env.send(subjects().rotate, { actor: admin, keyId: key.id, gracePeriodSeconds: 0, secret: newSecret().fingerprint })).toEqual(revoked);
    expect(await env.send(subjects().update, { actor: admin, keyId: key.id, name: 'again' })).toEqual(revoked);
  });
});

describe("the caller's wait (Keyplane-Reply-Within-Ms)", () => {
  const within = (payload: unknown, value: string) => {
    const wait = headers();
    wait.set(REPLY_WITHIN_HEADER, value);
    return new NatsRecordBuilder(payload).setHeaders(wait).build();
  };
  const issueRequest = () => ({ actor: admin, name: 'waited for', environment: 'live', permissions: ['FLOWS:READ'], secret: newSecret().fingerprint });
  const streamLength = async () => (await streamMessages(env.nc, env.ns.streams.keyEvents)).length;

  it('long enough, the command runs as without it', async () => {
    now = new Date(NOW);
    const reply = await env.send<IssuedKey>(subjects().issue, within(issueRequest(), '10000'));
    expect(reply.ok).toBe(true);
  });

  it('too short to commit in (less than the reply margin), the command is refused with 503 and nothing is stored or published', async () => {
    const [events, onStream] = [await countEvents(env.db), await streamLength()];
    const { key } = await issueKey();

    const replies = [
      await env.send(subjects().issue, within(issueRequest(), '1')),
      await env.send(subjects().revoke, within({ actor: admin, keyId: key.id, reason: 'late' }, '1')),
    ];

    const refused = { ok: false, error: { status: 503, error: 'Service Unavailable', details: 'Keys service could not make the change in time: nothing was changed' } };
    expect(replies).toEqual([refused, refused]);
    expect({ events: await countEvents(env.db), onStream: await streamLength() }).toEqual({ events: events + 1, onStream: onStream + 1 });
    expect(await env.send<KeyObject>(subjects().get, { actor: admin, keyId: key.id })).toMatchObject({ ok: true, value: { status: 'active' } });
    expect(await storedEvents(key.id)).toHaveLength(1);
  });

  it('malformed, the command is refused with a 400 naming the header, and nothing is stored', async () => {
    const events = await countEvents(env.db);
    const reply = await env.send(subjects().issue, within(issueRequest(), 'soon'));
    expect(reply).toEqual({
      ok: false,
      error: { status: 400, error: 'Bad Request', details: 'Keyplane-Reply-Within-Ms header: must be a whole number of milliseconds from 1 to 999999999' },
    });
    expect(await countEvents(env.db)).toBe(events);
  });
});

describe('operations', () => {
  it('is ready, and counts commands and relay lag in its metrics', async () => {
    const ready = await fetch(`${service.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { nats: true, postgres: true, migrations: true, relay: true } });
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/keys_commands_total\{command="issue",result="ok",service="keys"\} \d+/);
    expect(metrics).toMatch(/keys_commands_total\{command="issue",result="409",service="keys"\} 1/);
    expect(metrics).toContain('keys_outbox_relay_lag{service="keys"} 0');
  });
});
