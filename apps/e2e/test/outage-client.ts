import { metricTotal } from './metrics-total.js';

export interface TimedAnswer {
  status: number;
  /** How long the gateway took to answer. */
  ms: number;
  type: string | null;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** The gateway's 503 bodies when a service does not answer (DESIGN §6). */
export const UNAVAILABLE = {
  auth: { error: 'Service Unavailable', details: 'Authorization service unavailable' },
  keys: { error: 'Service Unavailable', details: 'Keys service unavailable' },
  metering: { error: 'Service Unavailable', details: 'Metering service unavailable' },
};

export type HourUsage = { requests: number; allowed: number; forbidden: number; rateLimited: number; unauthorized: number };

/**
 * What the outage tests ask of a stack they assembled themselves (services behind forwarders):
 * timed calls through its gateway, keys, metering's current hour and auth's own hour counter.
 * Getters, because the stack is started in `beforeAll`.
 */
export function outageClient(stack: { gatewayUrl: () => string; databaseUrl: () => string; adminKey: string }) {
  const { adminKey } = stack;

  async function call(method: string, path: string, key: string = adminKey, body?: unknown): Promise<TimedAnswer> {
    const started = Date.now();
    const response = await fetch(`${stack.gatewayUrl()}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: the assertion shows the raw text.
    }
    return { status: response.status, ms: Date.now() - started, type: response.headers.get('content-type'), headers: response.headers, body: parsed };
  }

  async function createKey(name: string, permissions: string[] = ['FLOWS:READ'], rateLimits?: { hour?: number; day?: number }) {
    const created = await call('POST', '/v1/api-keys', adminKey, { name, permissions, ...(rateLimits && { rateLimits }) });
    if (created.status !== 201) throw new Error(`create answered ${created.status}: ${JSON.stringify(created.body)}`);
    return { key: created.body.key as string, id: created.body.id as string };
  }

  const burst = (n: number, key: string, path = '/v1/flows') => Promise.all(Array.from({ length: n }, () => call('GET', path, key)));

  /** Metering's current hour for the key, or undefined while metering does not answer. */
  async function currentHourUsage(id: string): Promise<HourUsage | undefined> {
    const answer = await call('GET', `/v1/api-keys/${id}/usage`);
    return answer.status === 200 ? (answer.body.data.at(-1) as HourUsage) : undefined;
  }

  /** Auth's own hour counter for the key, from its quota store. */
  async function authUsed(id: string): Promise<number> {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: stack.databaseUrl() });
    await client.connect();
    try {
      const rows = await client.query(
        "SELECT used FROM auth.quota_windows WHERE key_id = $1 AND period = 'hour' AND window_start = date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
        [id],
      );
      return rows.rowCount ? Number(rows.rows[0].used) : 0;
    } finally {
      await client.end();
    }
  }

  return { call, createKey, burst, currentHourUsage, authUsed, metric: metricTotal };
}
