import pg from 'pg';
import type { Decision } from '@keyplane/contracts';
import { freshDatabase, freshNamespace, waitFor, type FreshDatabase, type FreshNamespace } from '@keyplane/testing';
import { issued } from './support/key-events.js';
import { awayFromWindowEdge, Gateway, KeyEventPublisher, startReplica, type Replica } from './support/harness.js';

let database: FreshDatabase;
let nats: FreshNamespace;
let replicas: Replica[] = [];
let keys: KeyEventPublisher;
let gateway: Gateway;
let db: pg.Client;

beforeAll(async () => {
  database = await freshDatabase('auth_quota');
  nats = freshNamespace();
  keys = await KeyEventPublisher.connect(nats.ns);
  replicas = await Promise.all([startReplica(database.url, nats.ns), startReplica(database.url, nats.ns)]);
  gateway = await Gateway.connect(nats.ns);
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  await gateway?.close();
  await Promise.all(replicas.map((replica) => replica.handle.close()));
  await keys?.close();
  await nats?.cleanup();
  await database?.drop();
});

async function burst(keyHash: string, count: number): Promise<Decision[]> {
  await awayFromWindowEdge();
  return Promise.all(
    Array.from({ length: count }, (_, n) => gateway.decide(keyHash, n % 2 === 0 ? 'FLOWS:READ' : 'FLOWS:WRITE')),
  );
}

function tally(decisions: Decision[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { outcome, reason } of decisions) counts[`${outcome}/${reason}`] = (counts[`${outcome}/${reason}`] ?? 0) + 1;
  return counts;
}

async function stored(keyId: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ period: string; used: number }>('SELECT period, used FROM auth.quota_windows WHERE key_id = $1', [keyId]);
  return Object.fromEntries(rows.map((row) => [row.period, row.used]));
}

/** A counter's total over its labels, from a replica's own /metrics. */
async function metricOn(replica: Replica, name: string): Promise<number> {
  const text = await (await fetch(`${replica.handle.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

const decisionsOn = (replica: Replica) => metricOn(replica, 'auth_decisions_total');

async function onAll(name: string): Promise<number> {
  const values = await Promise.all(replicas.map((replica) => metricOn(replica, name)));
  return values.reduce((sum, value) => sum + value, 0);
}

describe('quotas across two auth replicas', () => {
  it('admit exactly the hour limit out of a concurrent burst, and count nothing past it', async () => {
    const key = issued({ permissions: ['FLOWS:READ'], rateLimits: { hour: 50, day: 10_000 } });
    await keys.publish(key.event);

    const decisions = await burst(key.secret.hash, 200);

    const counts = tally(decisions);
    expect((counts['allowed/ok'] ?? 0) + (counts['forbidden/missing_permission'] ?? 0)).toBe(50);
    expect(counts['rate_limited/hour_limit']).toBe(150);
    expect(Object.keys(counts).sort()).toEqual(['allowed/ok', 'forbidden/missing_permission', 'rate_limited/hour_limit']);
    expect(await stored(key.keyId)).toEqual({ hour: 50, day: 50 });
    // Every counted request saw a distinct count: no two replicas handed out the same slot.
    const counted = decisions.filter((d) => d.outcome !== 'rate_limited').map((d) => d.limits?.hour.used);
    expect(new Set(counted).size).toBe(50);
    for (const replica of replicas) expect(await decisionsOn(replica)).toBeGreaterThan(0);
  });

  it('admit exactly the day limit when the day window binds', async () => {
    const key = issued({ permissions: ['*'], rateLimits: { hour: 10_000, day: 40 } });
    await keys.publish(key.event);

    const counts = tally(await burst(key.secret.hash, 200));

    expect(counts).toEqual({ 'allowed/ok': 40, 'rate_limited/day_limit': 160 });
    expect(await stored(key.keyId)).toEqual({ hour: 40, day: 40 });
  });

  it('lease quota for a hot key, give back what they did not spend, and still admit exactly the limit', async () => {
    const limit = 3000;
    const key = issued({ permissions: ['*'], rateLimits: { hour: limit, day: 100_000 } });
    await keys.publish(key.event);
    const leasedBefore = await onAll('auth_quota_leased_units_total');
    const releasedBefore = await onAll('auth_quota_released_units_total');

    const first: Decision[] = [];
    for (let wave = 0; wave < 5; wave++) first.push(...(await burst(key.secret.hash, 500)));
    expect(tally(first)).toEqual({ 'allowed/ok': 2500 });
    // Every admitted request had its own place in the window, whichever replica leased it.
    expect(new Set(first.map((d) => d.limits?.hour.used)).size).toBe(2500);
    const leased = (await onAll('auth_quota_leased_units_total')) - leasedBefore;
    expect(leased).toBeGreaterThan(0);
    expect((await stored(key.keyId)).hour).toBeLessThanOrEqual(limit);

    // Once the key goes quiet, what the replicas leased and did not spend goes back.
    await waitFor('unspent leases to be given back', async () => (await stored(key.keyId)).hour === 2500, 10_000, 50);
    expect((await onAll('auth_quota_released_units_total')) - releasedBefore).toBeLessThanOrEqual(leased);

    // Past the limit nothing is admitted, whatever the replicas hold; with demand, all of it is.
    let admitted = 2500 + tally(await burst(key.secret.hash, 1000))['allowed/ok']!;
    expect(admitted).toBeLessThanOrEqual(limit);
    for (let round = 0; round < 5 && admitted < limit; round++) {
      await waitFor('unspent leases to be given back', async () => (await stored(key.keyId)).hour === admitted, 10_000, 50);
      for (let decision = await gateway.decide(key.secret.hash); decision.outcome === 'allowed'; decision = await gateway.decide(key.secret.hash)) admitted++;
    }
    expect(admitted).toBe(limit);
    expect(await stored(key.keyId)).toEqual({ hour: limit, day: limit });
  }, 60_000);
});
