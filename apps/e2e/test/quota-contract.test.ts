import pg from 'pg';
import type { ServiceHandle } from '@keyplane/runtime';
import { freePort, TEST_NATS_URL, waitFor } from '@keyplane/testing';
import { loadAuthConfig } from '../../auth/src/config.js';
import { startAuthService } from '../../auth/src/start.js';
import { buildOnce, startServiceProcess, type ListeningService } from './service-process.js';
import { awayFromHourEnd, endOfHour, hourEndWaitMs, rateLimitHeaders, sleep, startStack, type Answer, type Stack } from './stack.js';

// Quotas as a client sees them when its key is hot on an auth replica, so that the replica holds
// leased quota in memory (DESIGN §5, docs/api.md "Limits", apps/auth/README.md "Quotas"). The
// in-process replica here keeps an unspent lease for a minute (QUOTA_LEASE_IDLE_MS), so what it
// holds when the key's limits change is still held when the next request comes, however slow the
// machine. The last test runs a replica as a process, to SIGKILL it.

let stack: Stack;
let auth: ServiceHandle | undefined;
let killed: ListeningService | undefined;
let db: pg.Client;

const authEnv = () => ({
  NATS_URL: TEST_NATS_URL,
  NATS_PREFIX: stack.ns.prefix,
  DATABASE_URL: stack.databaseUrl,
  DATABASE_POOL_SIZE: '4',
  LOG_LEVEL: 'warn',
  QUOTA_LEASE_IDLE_MS: '60000',
});

const startAuth = () => startAuthService(loadAuthConfig({ ...authEnv(), HTTP_PORT: '0', HTTP_HOST: '127.0.0.1' }), { logDestination: stack.logs });

beforeAll(async () => {
  stack = await startStack('e2e_quota_contract', { authReplicas: 0 });
  auth = await startAuth();
  db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
});

afterAll(async () => {
  killed?.child.kill('SIGKILL');
  await killed?.exited;
  await db?.end();
  await auth?.close();
  await stack?.close();
});

beforeEach(() => awayFromHourEnd(60), 5_000 + hourEndWaitMs(60));

const get = (key: string) => stack.call('GET', '/v1/flows', { key });
const burst = (key: string, n: number) => Promise.all(Array.from({ length: n }, () => get(key)));
const statuses = (answers: Answer[]) => answers.map((a) => a.status);

/** What the shared counter holds for the key's current hour: requests admitted plus units leased and unspent. */
async function counted(keyId: string): Promise<number> {
  const { rows } = await db.query<{ used: number }>(
    `SELECT used FROM auth.quota_windows WHERE key_id = $1 AND period = 'hour' AND window_start = to_timestamp($2)`,
    [keyId, endOfHour() - 3600],
  );
  return rows[0]?.used ?? 0;
}

/** Postgres sessions of auth replicas on this file's database. */
async function authSessions(): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'auth'`);
  return rows[0].n;
}

/** Sends bursts until the replica holds at least `units` leased and unspent; returns how many were admitted. */
async function heatUp(key: string, keyId: string, units: number): Promise<number> {
  let admitted = 0;
  for (let round = 0; round < 40; round++) {
    const answers = await burst(key, 40);
    expect(new Set(statuses(answers))).toEqual(new Set([200]));
    admitted += answers.length;
    if ((await counted(keyId)) - admitted >= units) return admitted;
  }
  throw new Error(`the replica never held ${units} leased units for the key`);
}

/**
 * PATCHes the key's limits, then asks with the key itself (a request that counts) until its answer
 * shows the new hourly limit; returns how many requests that took.
 */
async function patchLimits(id: string, key: string, rateLimits: { hour: number; day?: number }): Promise<number> {
  const patched = await stack.call('PATCH', `/v1/api-keys/${id}`, { body: { rateLimits } });
  expect(patched.status).toBe(200);
  let requests = 0;
  await waitFor(
    'the new limit in force',
    async () => {
      requests++;
      return (await get(key)).headers.get('x-ratelimit-limit-hour') === String(rateLimits.hour);
    },
    10_000,
    20,
  );
  return requests;
}

describe('a limit changed while the replica holds leased quota for the key', () => {
  it('lowered above what was used: exactly the difference is admitted, with exact headers, and the 429 comes only then', async () => {
    const { key, id } = await stack.createKey({ permissions: ['FLOWS:READ'], rateLimits: { hour: 5000, day: 100_000 } });
    let used = await heatUp(key, id, 8);
    const limit = used + 50;
    used += await patchLimits(id, key, { hour: limit });

    const left = limit - used;
    const remaining: string[] = [];
    for (let i = 0; i < left; i++) {
      const answer = await get(key);
      expect({ status: answer.status, body: answer.status === 200 ? null : answer.body }).toEqual({ status: 200, body: null });
      remaining.push(answer.headers.get('x-ratelimit-remaining-hour')!);
    }
    expect(remaining).toEqual(Array.from({ length: left }, (_, i) => String(left - 1 - i)));
    const limited = await get(key);
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ error: 'Rate limit exceeded', details: `Hourly limit of ${limit} requests reached` });
  });

  it('raised: X-RateLimit-Remaining counts from what was admitted, not from what the replica still holds', async () => {
    const { key, id } = await stack.createKey({ permissions: ['FLOWS:READ'], rateLimits: { hour: 5000, day: 100_000 } });
    let used = await heatUp(key, id, 8);
    used += await patchLimits(id, key, { hour: 6000 });

    const next = await get(key);
    expect(next.status).toBe(200);
    expect(rateLimitHeaders(next)).toMatchObject({
      'x-ratelimit-limit-hour': '6000',
      'x-ratelimit-remaining-hour': String(6000 - used - 1),
      'x-ratelimit-remaining-day': String(100_000 - used - 1),
    });
  });
});

describe('an auth replica SIGKILLed while it holds leased quota', () => {
  it('strands its unspent units for the rest of the window: the others never admit more than the limit, and admit exactly that much less', async () => {
    buildOnce();
    const limit = 1000;
    const { key, id } = await stack.createKey({ permissions: ['FLOWS:READ'], rateLimits: { hour: limit, day: 100_000 } });
    // Only the process decides while the key heats up, so whatever is leased and unspent is its own.
    await auth!.close();
    auth = undefined;
    killed = await startServiceProcess('auth', await freePort(), authEnv());
    let admitted = await heatUp(key, id, 8);
    killed.child.kill('SIGKILL');
    await killed.exited;
    killed = undefined;
    // A lease it had sent for may still commit: Postgres finishes a statement it has before it sees the client gone.
    await waitFor('the killed replica’s sessions to end', async () => (await authSessions()) === 0, 10_000, 50);
    const stranded = (await counted(id)) - admitted;
    // At most one lease and the unspent half of the one before: 1.5 × QUOTA_LEASE_MAX (256).
    expect(stranded).toBeGreaterThan(0);
    expect(stranded).toBeLessThanOrEqual(384);

    auth = await startAuth();
    for (let answer = await get(key); answer.status !== 429; answer = await get(key)) {
      expect(answer.status).toBe(200);
      admitted++;
    }
    expect(admitted).toBe(limit - stranded);
    expect(await counted(id)).toBe(limit);
    // Nobody gives the stranded units back: a while later, still nothing is admitted.
    await sleep(3000);
    const later = await get(key);
    expect(later.status).toBe(429);
    expect(later.body).toEqual({ error: 'Rate limit exceeded', details: `Hourly limit of ${limit} requests reached` });
    expect(await counted(id)).toBe(limit);
  }, 180_000);
});
