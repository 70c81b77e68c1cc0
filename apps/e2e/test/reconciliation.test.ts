import type { Kysely } from 'kysely';
import { createKysely } from '@keyplane/database';
import { generateKey } from '@keyplane/key-format';
import { waitFor } from '@keyplane/testing';
import { awayFromHourEnd, startStack, type Stack } from './stack.js';

// Issue 4, DESIGN §2: metering's windows are the read side of auth's quota and must reconcile
// with it. Concurrent load through the gateway, two auth replicas, several keys, 429s and
// 403s, and metering restarted in the middle of it; once traffic settles (and auth has given
// back quota it leased and did not spend), for each key the
// hour window's `allowed + forbidden` equals what auth's quota counted and `requests` equals
// the decisions made: every request sent with a well-formed key (malformed ones are
// rejected at the gateway without a decision).

/** auth.quota_windows, as the auth service's migrations define it (apps/auth/src/db). */
interface AuthTables {
  'auth.quota_windows': { key_id: string; period: 'hour' | 'day'; window_start: Date; used: number };
}

let stack: Stack;
let db: Kysely<AuthTables>;

beforeAll(async () => {
  stack = await startStack('e2e_reconciliation', { metering: {} });
  db = createKysely<AuthTables>({ url: stack.databaseUrl, max: 1 });
});

afterAll(async () => {
  await db?.destroy();
  await stack?.close();
});

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const CONCURRENCY = 16;
const MALFORMED = 'tv_live_malformed';

interface Planned {
  key: string;
  method: 'GET' | 'POST';
  path: string;
}

interface Tally {
  sent: number;
  allowed: number;
  forbidden: number;
  rateLimited: number;
}

const OUTCOME_OF_STATUS: Record<number, keyof Omit<Tally, 'sent'>> = { 200: 'allowed', 201: 'allowed', 404: 'allowed', 403: 'forbidden', 429: 'rateLimited' };

describe('metering reconciles with auth', () => {
  it('counts exactly what auth decided, across a metering restart under load', async () => {
    const plenty = await stack.createKey({ name: 'plenty', permissions: ['FLOWS:READ'] });
    const tight = await stack.createKey({ name: 'tight', permissions: ['FLOWS:READ'], rateLimits: { hour: 30, day: 1000 } });
    const writer = await stack.createKey({ name: 'writer', permissions: ['FLOWS:*'] });
    const daily = await stack.createKey({ name: 'daily', permissions: ['FLOWS:READ'], rateLimits: { hour: 1000, day: 20 } });
    const keys = { plenty, tight, writer, daily };
    const unknown = generateKey({ environment: 'live' }).key;

    const plan: Planned[] = shuffle([
      ...times(60, { key: plenty.key, method: 'GET', path: '/v1/flows' }),
      ...times(20, { key: plenty.key, method: 'POST', path: '/v1/flows' }),
      ...times(70, { key: tight.key, method: 'GET', path: '/v1/flows' }),
      ...times(10, { key: tight.key, method: 'POST', path: '/v1/flows' }),
      ...times(40, { key: writer.key, method: 'POST', path: '/v1/flows' }),
      ...times(20, { key: writer.key, method: 'GET', path: '/v1/nope' }),
      ...times(40, { key: daily.key, method: 'GET', path: '/v1/flows' }),
      ...times(10, { key: unknown, method: 'GET', path: '/v1/flows' }),
      ...times(10, { key: MALFORMED, method: 'GET', path: '/v1/flows' }),
    ]);
    const wellFormed = plan.length - 10;

    await awayFromHourEnd(30);
    const hourStart = Math.floor(Date.now() / HOUR) * HOUR;
    const decisionsBefore = await decisionCount(stack);

    const tallies = new Map<string, Tally>();
    const unexpected: string[] = [];
    // Metering restarts once a third of the traffic is sent, while more keeps coming; the last
    // third waits for the new instance, so it sees both the backlog and live traffic.
    let next = 0;
    const restarted = waitFor('a third of the traffic', () => next >= plan.length / 3, 20_000, 5).then(() => stack.restartMetering());
    const worker = async () => {
      for (;;) {
        if (next >= (plan.length * 2) / 3) await restarted;
        if (next >= plan.length) return;
        const { key, method, path } = plan[next++]!;
        const answer = await stack.call(method, path, { key, body: method === 'POST' ? { name: 'load' } : undefined });
        const tally = tallies.get(key) ?? { sent: 0, allowed: 0, forbidden: 0, rateLimited: 0 };
        tallies.set(key, tally);
        tally.sent++;
        const outcome = key === unknown || key === MALFORMED ? (answer.status === 401 ? null : undefined) : OUTCOME_OF_STATUS[answer.status];
        if (outcome) tally[outcome]++;
        else if (outcome === undefined) unexpected.push(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
      }
    };
    await Promise.all([...Array.from({ length: CONCURRENCY }, worker), restarted]);
    expect(unexpected).toEqual([]);
    expect(Math.floor(Date.now() / HOUR) * HOUR).toBe(hourStart);
    expect((await decisionCount(stack)) - decisionsBefore).toBe(wellFormed);

    // The quotas held: the limits admitted exactly their size, the rest was refused.
    expect(counted(tallies.get(tight.key)!)).toBe(30);
    expect(counted(tallies.get(daily.key)!)).toBe(20);
    expect(tallies.get(tight.key)!.rateLimited).toBe(50);

    const window = (granularity: 'hour' | 'day', id: string) =>
      stack.call('GET', `/v1/api-keys/${id}/usage?granularity=${granularity}&from=${new Date(hourStart).toISOString()}&to=${new Date(hourStart).toISOString()}`);
    await waitFor(
      'metering to catch up with every decision',
      async () => {
        for (const { id, key } of Object.values(keys)) if ((await window('hour', id)).body.data?.[0]?.requests !== tallies.get(key)!.sent) return false;
        return true;
      },
      20_000,
      100,
    );

    const used = async (id: string, period: 'hour' | 'day') => {
      const start = period === 'hour' ? hourStart : Math.floor(hourStart / DAY) * DAY;
      const row = await db
        .selectFrom('auth.quota_windows')
        .select('used')
        .where('key_id', '=', id)
        .where('period', '=', period)
        .where('window_start', '=', new Date(start))
        .executeTakeFirst();
      return row?.used;
    };

    for (const [name, { id, key }] of Object.entries(keys)) {
      const tally = tallies.get(key)!;
      const hour = (await window('hour', id)).body.data[0];
      const day = (await window('day', id)).body.data[0];
      expect({ name, hour }).toEqual({
        name,
        hour: {
          start: new Date(hourStart).toISOString(),
          requests: tally.sent,
          allowed: tally.allowed,
          forbidden: tally.forbidden,
          rateLimited: tally.rateLimited,
          unauthorized: 0,
        },
      });
      // A replica's counter includes quota it leased for a hot key and has not spent yet; it
      // gives that back once the key has been quiet for QUOTA_LEASE_IDLE_MS (1 s).
      const counted = { name, hour: hour.allowed + hour.forbidden, day: day.allowed + day.forbidden };
      const inAuth = async () => ({ name, hour: await used(id, 'hour'), day: await used(id, 'day') });
      await waitFor('auth to give back unspent leased quota', async () => (await inAuth()).hour === counted.hour, 5_000, 50).catch(() => undefined);
      expect(counted).toEqual(await inAuth());
    }
  }, 120_000);
});

const times = (n: number, request: Planned): Planned[] => Array.from({ length: n }, () => request);

const counted = (tally: Tally) => tally.allowed + tally.forbidden;

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Decisions made by all of the stack's auth replicas, from their own /metrics. */
async function decisionCount(on: Stack): Promise<number> {
  let total = 0;
  for (const replica of on.auth) {
    const text = await (await fetch(`${replica.url}/metrics`)).text();
    for (const line of text.split('\n')) if (line.startsWith('auth_decisions_total{')) total += Number(line.split(' ').at(-1));
  }
  return total;
}
