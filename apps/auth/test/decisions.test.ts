import pg from 'pg';
import type { FreshDatabase } from '@keyplane/testing';
import { issued, permissionsChanged, rateLimitsChanged, revoked, rotated } from './support/key-events.js';
import { awayFromWindowEdge, startTestbed, type Gateway, type KeyEventPublisher, type Replica, type Testbed } from './support/harness.js';
import { decideRequest } from './support/requests.js';

let database: FreshDatabase;
let replica: Replica;
let keys: KeyEventPublisher;
let gateway: Gateway;

let bed: Testbed;

beforeAll(async () => {
  bed = await startTestbed('auth_decisions');
  ({ database, replica, keys, gateway } = bed);
});

afterAll(() => bed?.close());

const iso = (ms: number) => new Date(ms).toISOString();
const unauthorized = (reason: string) => ({ outcome: 'unauthorized', reason, key: null, limits: null });

describe('auth.decide: who gets in', () => {
  it('allows an active key, naming it and its limits', async () => {
    await awayFromWindowEdge();
    const key = issued({ permissions: ['FLOWS:READ'], rateLimits: { hour: 100, day: 1000 } });
    await keys.publish(key.event);
    const before = Date.now();
    const decision = await gateway.decide(key.secret.hash, 'FLOWS:READ');
    const hourEnd = Math.floor(before / 3_600_000) * 3600 + 3600;
    const dayEnd = Math.floor(before / 86_400_000) * 86_400 + 86_400;
    expect(decision).toEqual({
      outcome: 'allowed',
      reason: 'ok',
      key: { keyId: key.keyId, accountId: 'acc_test', environment: 'live', permissions: ['FLOWS:READ'] },
      limits: {
        hour: { limit: 100, used: 1, remaining: 99, resetAt: hourEnd },
        day: { limit: 1000, used: 1, remaining: 999, resetAt: dayEnd },
      },
    });
  });

  it('turns away a hash it does not know', async () => {
    expect(await gateway.decide(issued().secret.hash, 'FLOWS:READ')).toEqual(unauthorized('unknown_key'));
  });

  it('turns away a revoked key', async () => {
    const key = issued();
    await keys.publish(key.event);
    await keys.publish(revoked(key.keyId));
    expect(await gateway.decide(key.secret.hash, 'FLOWS:READ')).toEqual(unauthorized('revoked'));
  });

  it('turns away an expired key', async () => {
    const key = issued({ expiresAt: iso(Date.now() - 1000) });
    await keys.publish(key.event);
    expect(await gateway.decide(key.secret.hash, null)).toEqual(unauthorized('expired'));
  });

  it('keeps the previous secret working during the grace period, then calls it rotated out', async () => {
    const key = issued();
    await keys.publish(key.event);
    const graceEnds = Date.now() + 400;
    const rotation = rotated(key.keyId, key.secret, iso(graceEnds));
    await keys.publish(rotation.event);

    expect((await gateway.decide(key.secret.hash, null)).outcome).toBe('allowed');
    expect((await gateway.decide(rotation.secret.hash, null)).outcome).toBe('allowed');
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, graceEnds - Date.now() + 20)));
    expect(await gateway.decide(key.secret.hash, null)).toEqual(unauthorized('rotated_out'));
    expect((await gateway.decide(rotation.secret.hash, null)).outcome).toBe('allowed');
  });

  it('rotates out at once without a grace period', async () => {
    const key = issued();
    await keys.publish(key.event);
    const rotation = rotated(key.keyId, key.secret, iso(Date.now()));
    await keys.publish(rotation.event);
    expect(await gateway.decide(key.secret.hash, null)).toEqual(unauthorized('rotated_out'));
    expect((await gateway.decide(rotation.secret.hash, null)).outcome).toBe('allowed');
  });
});

describe('auth.decide: permissions', () => {
  const outcomes = async (permissions: string[], required: (string | null)[]) => {
    const key = issued({ permissions });
    await keys.publish(key.event);
    const decisions = [];
    for (const permission of required) decisions.push((await gateway.decide(key.secret.hash, permission)).outcome);
    return decisions;
  };

  it('lets `*` do anything', async () => {
    expect(await outcomes(['*'], ['FLOWS:WRITE', 'KEYS:READ', 'AUDIT:READ'])).toEqual(['allowed', 'allowed', 'allowed']);
  });

  it('lets `R:*` do anything on R, and nothing elsewhere', async () => {
    expect(await outcomes(['FLOWS:*'], ['FLOWS:READ', 'FLOWS:EXECUTE', 'RECORDS:READ'])).toEqual(['allowed', 'allowed', 'forbidden']);
  });

  it('matches an exact permission, and WRITE does not imply READ', async () => {
    expect(await outcomes(['FLOWS:WRITE'], ['FLOWS:WRITE', 'FLOWS:READ'])).toEqual(['allowed', 'forbidden']);
  });

  it('only authenticates when the route requires nothing', async () => {
    expect(await outcomes([], [null])).toEqual(['allowed']);
  });

  it('follows a permission change', async () => {
    const key = issued({ permissions: ['FLOWS:READ'] });
    await keys.publish(key.event);
    await keys.publish(permissionsChanged(key.keyId, ['RECORDS:READ']));
    expect(await gateway.decide(key.secret.hash, 'FLOWS:READ')).toMatchObject({
      outcome: 'forbidden',
      reason: 'missing_permission',
      key: { permissions: ['RECORDS:READ'] },
    });
  });
});

describe('auth.decide: quota', () => {
  beforeEach(() => awayFromWindowEdge());

  it('counts forbidden requests, and counts nothing once rate limited', async () => {
    const key = issued({ permissions: ['FLOWS:READ'], rateLimits: { hour: 3, day: 100 } });
    await keys.publish(key.event);
    const decide = (permission: string) => gateway.decide(key.secret.hash, permission);

    expect(await decide('FLOWS:READ')).toMatchObject({ outcome: 'allowed', limits: { hour: { used: 1, remaining: 2 }, day: { used: 1 } } });
    expect(await decide('FLOWS:WRITE')).toMatchObject({ outcome: 'forbidden', limits: { hour: { used: 2, remaining: 1 }, day: { used: 2 } } });
    expect(await decide('FLOWS:READ')).toMatchObject({ outcome: 'allowed', limits: { hour: { used: 3, remaining: 0 }, day: { used: 3 } } });
    for (const permission of ['FLOWS:READ', 'FLOWS:WRITE']) {
      expect(await decide(permission)).toMatchObject({
        outcome: 'rate_limited',
        reason: 'hour_limit',
        key: { keyId: key.keyId },
        limits: { hour: { limit: 3, used: 3, remaining: 0 }, day: { limit: 100, used: 3, remaining: 97 } },
      });
    }
  });

  it('names the day when the day window is the full one', async () => {
    const key = issued({ rateLimits: { hour: 10, day: 2 } });
    await keys.publish(key.event);
    await gateway.decide(key.secret.hash, null);
    await gateway.decide(key.secret.hash, null);
    expect(await gateway.decide(key.secret.hash, null)).toMatchObject({
      outcome: 'rate_limited',
      reason: 'day_limit',
      limits: { hour: { used: 2, remaining: 8 }, day: { used: 2, remaining: 0 } },
    });
  });

  it('applies a rate limit change from the next request', async () => {
    const key = issued({ rateLimits: { hour: 2, day: 100 } });
    await keys.publish(key.event);
    await gateway.decide(key.secret.hash, null);
    await gateway.decide(key.secret.hash, null);
    expect((await gateway.decide(key.secret.hash, null)).outcome).toBe('rate_limited');
    await keys.publish(rateLimitsChanged(key.keyId, { hour: 3, day: 100 }));
    expect(await gateway.decide(key.secret.hash, null)).toMatchObject({ outcome: 'allowed', limits: { hour: { limit: 3, used: 3 } } });
    await keys.publish(rateLimitsChanged(key.keyId, { hour: 1, day: 100 }));
    expect(await gateway.decide(key.secret.hash, null)).toMatchObject({
      outcome: 'rate_limited',
      limits: { hour: { limit: 1, used: 3, remaining: 0 } },
    });
  });

  it('counts nothing for a refused key', async () => {
    const key = issued({ rateLimits: { hour: 5, day: 100 } });
    await keys.publish(key.event);
    await keys.publish(revoked(key.keyId));
    await gateway.decide(key.secret.hash, null);
    await gateway.decide(key.secret.hash, null);
    const { rows } = await query('SELECT count(*)::int AS n FROM auth.quota_windows WHERE key_id = $1', [key.keyId]);
    expect(rows[0].n).toBe(0);
  });
});

describe('auth.decide: bad input', () => {
  const badRequest = (details: string) => ({ ok: false, error: { status: 400, error: 'Bad Request', details } });

  it.each([
    ['a missing field', (r: Record<string, unknown>) => ({ ...r, keyHash: undefined }), 'keyHash: Invalid input: expected string, received undefined'],
    ['a wrong type', (r: Record<string, unknown>) => ({ ...r, permission: 42 }), 'permission: Invalid input: expected string, received number'],
    ['a bad hash', (r: Record<string, unknown>) => ({ ...r, keyHash: 'tv_live_abc' }), 'keyHash: expected a SHA-256 hash in lowercase hex'],
    ['an extra field', (r: Record<string, unknown>) => ({ ...r, key: 'secret' }), 'Unrecognized key: "key"'],
  ])('answers 400 naming the field for %s', async (_what, change, details) => {
    const request = decideRequest(issued().secret.hash, 'FLOWS:READ') as unknown as Record<string, unknown>;
    expect(await gateway.ask(change(request))).toEqual(badRequest(details));
  });

  it('answers 400 for a message that is not an object, and keeps working', async () => {
    expect(await gateway.ask('hello')).toEqual(badRequest('Invalid input: expected object, received string'));
    expect(await gateway.ask([1, 2])).toEqual(badRequest('Invalid input: expected object, received array'));
    const key = issued();
    await keys.publish(key.event);
    expect((await gateway.decide(key.secret.hash, null)).outcome).toBe('allowed');
  });
});

describe('secrets', () => {
  it('never reach the logs', () => {
    expect(replica.logs.text()).not.toMatch(/tv_(live|test)_[0-9A-Za-z]{38}/);
  });
});

async function query(text: string, values: unknown[]) {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}
