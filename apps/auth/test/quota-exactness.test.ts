import pg from 'pg';
import type { Decision } from '@keyplane/contracts';
import { freshDatabase, freshNamespace, type FreshDatabase, type FreshNamespace } from '@keyplane/testing';
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

async function decisionsOn(replica: Replica): Promise<number> {
  const text = await (await fetch(`${replica.handle.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('auth_decisions_total{'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
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
});
