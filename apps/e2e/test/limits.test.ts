import { awayFromHourEnd, endOfDay, endOfHour, nowSeconds, rateLimitHeaders, startStack, type Stack } from './stack.js';

// DESIGN §5: per-key hourly and daily quotas, exact across auth replicas; 429s count against nothing.

let stack: Stack;

beforeAll(async () => {
  stack = await startStack('e2e_limits');
});

afterAll(() => stack?.close());

beforeEach(() => awayFromHourEnd());

const near = (actual: string | null, expected: number) => Math.abs(Number(actual) - expected) <= 2;

describe('quotas', () => {
  it("answers 429 at the key's own hourly limit, with Retry-After until the hour ends", async () => {
    const { key } = await stack.createKey({ permissions: ['FLOWS:READ'], rateLimits: { hour: 5, day: 100 } });
    for (let i = 0; i < 5; i++) {
      const answer = await stack.call('GET', '/v1/flows', { key });
      expect({ status: answer.status, remaining: answer.headers.get('x-ratelimit-remaining') }).toEqual({ status: 200, remaining: String(4 - i) });
    }

    for (let i = 0; i < 2; i++) {
      const limited = await stack.call('GET', '/v1/flows', { key });
      expect(limited.status).toBe(429);
      expect(limited.body).toEqual({ error: 'Rate limit exceeded', details: 'Hourly limit of 5 requests reached' });
      expect(limited.headers.get('content-type')).toBe('application/json');
      expect(near(limited.headers.get('retry-after'), endOfHour() - nowSeconds())).toBe(true);
      // The 429 itself is not counted: the day still shows 5 used.
      expect(rateLimitHeaders(limited)).toEqual({
        'x-ratelimit-limit': '5',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(endOfHour()),
        'x-ratelimit-limit-hour': '5',
        'x-ratelimit-remaining-hour': '0',
        'x-ratelimit-limit-day': '100',
        'x-ratelimit-remaining-day': '95',
      });
      expect(limited.headers.get('ratelimit-policy')).toBe('"hour";q=5;w=3600, "day";q=100;w=86400');
    }
  });

  it("answers 429 at the key's own daily limit, with Retry-After until the day ends", async () => {
    const { key } = await stack.createKey({ permissions: ['FLOWS:READ'], rateLimits: { hour: 100, day: 3 } });
    for (let i = 0; i < 3; i++) expect((await stack.call('GET', '/v1/flows', { key })).status).toBe(200);

    const limited = await stack.call('GET', '/v1/flows', { key });
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ error: 'Rate limit exceeded', details: 'Daily limit of 3 requests reached' });
    expect(near(limited.headers.get('retry-after'), endOfDay() - nowSeconds())).toBe(true);
    expect(rateLimitHeaders(limited)).toEqual({
      'x-ratelimit-limit': '3',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': String(endOfDay()),
      'x-ratelimit-limit-hour': '100',
      'x-ratelimit-remaining-hour': '97',
      'x-ratelimit-limit-day': '3',
      'x-ratelimit-remaining-day': '0',
    });
    expect(limited.headers.get('ratelimit')).toMatch(/^"day";r=0;t=\d+$/);
  });

  it('counts forbidden and unknown-path requests, but not rate-limited ones', async () => {
    const { key } = await stack.createKey({ permissions: ['FLOWS:READ'], rateLimits: { hour: 3, day: 50 } });
    expect((await stack.call('POST', '/v1/flows', { key, body: { name: 'x' } })).status).toBe(403);
    expect((await stack.call('GET', '/v1/nope', { key })).status).toBe(404);
    const last = await stack.call('GET', '/v1/flows', { key });
    expect({ status: last.status, remaining: last.headers.get('x-ratelimit-remaining') }).toEqual({ status: 200, remaining: '0' });

    for (const [method, path] of [
      ['GET', '/v1/flows'],
      ['POST', '/v1/flows'],
      ['GET', '/v1/nope'],
    ] as const) {
      const limited = await stack.call(method, path, { key, body: method === 'POST' ? { name: 'x' } : undefined });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('x-ratelimit-remaining-day')).toBe('47');
    }
  });

  it('admits exactly the limit under concurrency across both auth replicas', async () => {
    const limit = 25;
    const { key } = await stack.createKey({ permissions: ['FLOWS:READ'], rateLimits: { hour: limit, day: 1000 } });
    const before = await Promise.all(stack.auth.map(decisionCount));

    const answers = await Promise.all(Array.from({ length: 60 }, () => stack.call('GET', '/v1/flows', { key })));

    const allowed = answers.filter((a) => a.status === 200);
    const limited = answers.filter((a) => a.status === 429);
    expect({ allowed: allowed.length, limited: limited.length }).toEqual({ allowed: limit, limited: 60 - limit });
    // Each admitted request saw its own place in the window: 24, 23, ... 0, each exactly once.
    const remaining = allowed.map((a) => Number(a.headers.get('x-ratelimit-remaining-hour'))).sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: limit }, (_, i) => i));
    for (const answer of limited) expect(answer.headers.get('x-ratelimit-remaining-day')).toBe(String(1000 - limit));

    const after = await Promise.all(stack.auth.map(decisionCount));
    after.forEach((count, replica) => expect(count - before[replica]!).toBeGreaterThan(0));
  });
});

/** How many decisions a replica has made, from its own /metrics. */
async function decisionCount(replica: { url: string }): Promise<number> {
  const text = await (await fetch(`${replica.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('auth_decisions_total{'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}
