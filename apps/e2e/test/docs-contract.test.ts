import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hashKey } from '@keyplane/key-format';
import { waitFor } from '@keyplane/testing';
import { loadAuthConfig } from '../../auth/src/config.js';
import { loadDemoApiConfig } from '../../demo-api/src/config.js';
import { loadGatewayConfig } from '../../gateway/src/config.js';
import { loadKeysConfig } from '../../keys/src/config.js';
import { loadMeteringConfig } from '../../metering/src/config.js';
import { rawRequest } from './raw-http.js';
import { awayFromHourEnd, endOfDay, hourEndWaitMs, nowSeconds, startStack, type Answer, type Stack } from './stack.js';

// What a newcomer reads and tries: README.md's quickstart, docs/api.md's quoted requests and
// answers, DESIGN §7's calls and the services' Configuration tables, replayed against the product.
// Examples are read out of the markdown where it quotes them, so the docs cannot drift from what
// the product does without this file failing.

const repoFile = (path: string) => readFileSync(fileURLToPath(new URL(`../../../${path}`, import.meta.url)), 'utf8');
// Markdown wraps lines anywhere, inside code spans too, where a line break reads as a space.
const prose = (path: string) => repoFile(path).replace(/\s+/g, ' ');
const README = repoFile('README.md');
const API = prose('docs/api.md');

/** The capture groups of the first match of `pattern` in `text`; fails when the doc no longer says it. */
function quote(text: string, pattern: RegExp): string[] {
  const match = pattern.exec(text);
  if (!match) throw new Error(`the docs no longer say ${pattern}`);
  return match.slice(1);
}

// DESIGN §7's key object, field by field.
const KEY_OBJECT_FIELDS = ['id', 'accountId', 'name', 'environment', 'prefix', 'last4', 'permissions', 'rateLimits', 'status', 'createdAt', 'expiresAt', 'revokedAt', 'lastUsedAt'];
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const error = (name: string, details: string) => ({ error: name, details });

let stack: Stack;

beforeAll(async () => {
  stack = await startStack('e2e_docs_contract', { metering: {} });
}, 60_000);

afterAll(() => stack?.close());

describe('README quickstart', () => {
  /** The curl commands of the block after "Then:", split into words as a shell would. */
  function quickstartCurls(): string[][] {
    const block = quote(README, /Then:\n\n```sh\n([\s\S]*?)```/)[0]!;
    return block
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .filter((line) => line.startsWith('curl '))
      .map((line) => [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!));
  }

  /** Runs one curl command of the README against this stack, `$ADMIN_KEY` being its admin key. */
  async function curl(words: string[]): Promise<Answer> {
    let method = 'GET';
    let body: string | undefined;
    let url = '';
    const headers: Record<string, string> = {};
    for (let i = 1; i < words.length; i++) {
      const word = words[i]!;
      if (word === '-X') method = words[++i]!;
      else if (word === '-H') {
        const header = words[++i]!.replace('$ADMIN_KEY', stack.adminKey);
        headers[header.slice(0, header.indexOf(':')).toLowerCase()] = header.slice(header.indexOf(':') + 1).trim();
      } else if (word === '-d') {
        body = words[++i]!;
        if (method === 'GET') method = 'POST';
      } else url = word;
    }
    const target = new URL(url);
    expect(target.origin).toBe('http://127.0.0.1:8080'); // the gateway URL README says npm start prints
    const { authorization, ...rest } = headers;
    expect(authorization).toBe(`Bearer ${stack.adminKey}`);
    return stack.call(method, target.pathname + target.search, { body, headers: rest });
  }

  it('lists the keys and creates one, as its two curl commands show', async () => {
    const [list, create, ...more] = quickstartCurls();
    expect(more).toEqual([]);

    const listed = await curl(list!);
    expect(listed.status).toBe(200);
    expect(listed.headers.get('content-type')).toBe('application/json');
    expect(listed.body).toEqual({ data: [expect.objectContaining({ accountId: 'acc_root', name: 'bootstrap admin', permissions: ['*'] })], nextCursor: null });
    expect(Object.keys(listed.body.data[0])).toEqual(KEY_OBJECT_FIELDS);

    const created = await curl(create!);
    const sent = JSON.parse(create![create!.indexOf('-d') + 1]!);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^key_[0-9A-Z]{26}$/),
      accountId: 'acc_root',
      name: sent.name,
      environment: 'live',
      prefix: created.body.key.slice(0, 12),
      last4: created.body.key.slice(-4),
      permissions: sent.permissions,
      rateLimits: { hour: 1000, day: 10000 },
      status: 'active',
      createdAt: expect.stringMatching(ISO),
      expiresAt: null,
      revokedAt: null,
      lastUsedAt: null,
      key: expect.stringMatching(/^tv_live_[0-9A-Za-z]{38}$/),
    });
    expect(Object.keys(created.body)).toEqual([...KEY_OBJECT_FIELDS, 'key']);
  });
});

describe('DESIGN §7 calls, as docs/api.md describes them', () => {
  it('takes a key through get, patch, rotate with a grace period, rotate again, revoke and delete', async () => {
    const { key: first, id } = await stack.createKey({ name: 'lifecycle', permissions: ['FLOWS:READ'] });
    const got = await stack.call('GET', `/v1/api-keys/${id}`);
    expect(got.status).toBe(200);
    expect(got.headers.get('cache-control')).toBe('no-store'); // api.md: every answer the management API gives

    // api.md, Keys: partial `rateLimits` are merged with the current ones.
    const patched = await stack.call('PATCH', `/v1/api-keys/${id}`, { body: { name: 'lifecycle 2', rateLimits: { hour: 50 } } });
    expect(patched.status).toBe(200);
    expect(patched.body).toEqual({ ...got.body, name: 'lifecycle 2', rateLimits: { hour: 50, day: 10000 } });

    // DESIGN §7: rotate answers the key object, the new secret and when the old one stops.
    const before = Date.now();
    const rotated = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: { gracePeriodSeconds: 3600 } });
    const after = Date.now();
    expect(rotated.status).toBe(200);
    expect(Object.keys(rotated.body)).toEqual([...KEY_OBJECT_FIELDS, 'key', 'previousKeyExpiresAt']);
    const second = rotated.body.key as string;
    const previousEnds = Date.parse(rotated.body.previousKeyExpiresAt);
    expect(previousEnds).toBeGreaterThanOrEqual(before + 3_600_000 - 1);
    expect(previousEnds).toBeLessThanOrEqual(after + 3_600_000);
    expect((await stack.call('GET', '/v1/flows', { key: second })).status).toBe(200);
    expect((await stack.call('GET', '/v1/flows', { key: first })).status).toBe(200);

    // api.md: only one previous secret is kept, so rotating again ends the earlier grace period;
    // DESIGN §6: a rotated-out secret answers like an unknown key.
    const again = await stack.call('POST', `/v1/api-keys/${id}/rotate`);
    expect(again.status).toBe(200);
    const unknown = await waitFor('the first secret to stop', async () => {
      const answer = await stack.call('GET', '/v1/flows', { key: first });
      return answer.status === 401 ? answer : null;
    });
    expect(unknown.body).toEqual(error('Unauthorized', 'Invalid or missing API key'));
    expect(unknown.headers.get('www-authenticate')).toBe('Bearer');
    const third = again.body.key as string;

    const revoked = await stack.call('POST', `/v1/api-keys/${id}/revoke`, { body: { reason: 'leaked' } });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id, status: 'revoked', revokedAt: expect.stringMatching(ISO) });
    const refused = await waitFor('the revocation to be in force', async () => {
      const answer = await stack.call('GET', '/v1/flows', { key: third });
      return answer.status === 401 ? answer : null;
    });
    expect(refused.body).toEqual(error('Unauthorized', 'API key has been revoked'));
    // api.md: revoking twice returns the revoked key; DELETE is revoke; a revoked key cannot be changed.
    const revokedObject = { ...revoked.body };
    delete revokedObject.lastUsedAt; // metering may have caught up with the key's last use meanwhile
    expect((await stack.call('POST', `/v1/api-keys/${id}/revoke`)).body).toMatchObject(revokedObject);
    expect((await stack.call('DELETE', `/v1/api-keys/${id}`)).body).toMatchObject(revokedObject);
    const conflict = await stack.call('PATCH', `/v1/api-keys/${id}`, { body: { name: 'x' } });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toBe('Conflict');

    // Audit (DESIGN §7): lifecycle events with their actor, newest first, never a secret hash.
    const admin = (await stack.call('GET', '/v1/api-keys?limit=1000')).body.data.find((k: { name: string }) => k.name === 'bootstrap admin');
    const audit = await stack.call('GET', `/v1/audit/events?keyId=${id}`);
    expect(audit.status).toBe(200);
    expect(audit.body.nextCursor).toBeNull();
    expect(audit.body.data.map((e: { type: string }) => e.type)).toEqual([
      'KeyRevoked',
      'KeySecretRotated',
      'KeySecretRotated',
      'KeyRateLimitsChanged',
      'KeyRenamed',
      'KeyIssued',
    ]);
    for (const event of audit.body.data) expect(event).toMatchObject({ keyId: id, accountId: 'acc_root', actor: admin.id });
    for (const secret of [first, second, third]) expect(JSON.stringify(audit.body)).not.toContain(hashKey(secret));
  });

  it('answers the documented error bodies', async () => {
    // api.md, Routes and errors: `permissions[1]: unknown permission "FLOW:READ"`.
    const [unknownPermission] = quote(API, /naming the field, e\.g\. `(permissions\[1\]: unknown permission "FLOW:READ")`/);
    const badGrant = await stack.call('POST', '/v1/api-keys', { body: { name: 'typo', permissions: ['FLOWS:READ', 'FLOW:READ'] } });
    expect(badGrant).toMatchObject({ status: 400, body: error('Bad Request', unknownPermission!) });
    expect(badGrant.headers.get('content-type')).toBe('application/json');

    // api.md, Keys: `/v1/api-keys/nope` answers `API key nope not found`.
    const [path, notFound] = quote(API, /\(`(\/v1\/api-keys\/[a-z]+)`\): `([^`]+)`/);
    expect(await stack.call('GET', path!)).toMatchObject({ status: 404, body: error('Not Found', notFound!) });

    // api.md, Keys: `POST /v1/api-keys?environment=test` is a 400, not a live key.
    const [query] = quote(API, /`POST (\/v1\/api-keys\?environment=test)` is a 400/);
    const withQuery = await stack.call('POST', query!, { body: { name: 'q', permissions: [] } });
    expect(withQuery).toMatchObject({ status: 400, body: { error: 'Bad Request' } });

    // api.md, Routes and errors: a malformed percent-encoding, before authentication.
    const [malformed, malformedDetails] = quote(API, /\(`(\/v1\/flows\/%zz)`\) is 400 `([^`]+)`/);
    expect(await stack.call('GET', malformed!, { key: null })).toMatchObject({ status: 400, body: error('Bad Request', malformedDetails!) });

    // api.md: a body that is not UTF-8.
    const [notUtf8] = quote(API, /a body that is not UTF-8: `([^`]+)`/);
    const bytes = await fetch(`${stack.gateway.url}/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'application/json' },
      body: Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
    });
    expect({ status: bytes.status, body: await bytes.json() }).toEqual({ status: 400, body: error('Bad Request', notUtf8!) });

    // api.md, Routes and errors: request targets no URL parser passes on as written, a missing Host, CONNECT.
    const [hash] = quote(API, /the details name it: `([^`]+)`/);
    const raw = async (request: string) => {
      const answer = await rawRequest(stack.gateway.url, request);
      return { status: answer.status, body: JSON.parse(answer.body) };
    };
    expect(await raw('GET /v1/flows#x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).toEqual({ status: 400, body: error('Bad Request', hash!) });
    const [noHost] = quote(API, /is 400 `(An HTTP\/1\.1 request must have a Host header)`/);
    expect(await raw('GET /v1/flows HTTP/1.1\r\nConnection: close\r\n\r\n')).toEqual({ status: 400, body: error('Bad Request', noHost!) });
    const [connect] = quote(API, /is 400 `(CONNECT is not supported: [^`]+)`/);
    expect(await raw('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')).toEqual({ status: 400, body: error('Bad Request', connect!) });
  });

  it('sends the rate-limit headers and 429s docs/api.md quotes', async () => {
    await awayFromHourEnd(20);
    // api.md, Limits: `RateLimit-Policy: "hour";q=1000;w=3600, "day";q=10000;w=86400` for the default limits.
    const [policy] = quote(API, /`RateLimit-Policy: ([^`]+)`/);
    const [rateLimit] = quote(API, /`RateLimit: ([^`]+)`/);
    const { key } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const ok = await stack.call('GET', '/v1/flows', { key });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('ratelimit-policy')).toBe(policy);
    const pattern = new RegExp(`^${rateLimit!.replace('<remaining>', '(\\d+)').replace('<seconds>', '(\\d+)')}$`);
    expect(ok.headers.get('ratelimit')).toMatch(pattern);
    expect(pattern.exec(ok.headers.get('ratelimit')!)![1]).toBe(ok.headers.get('x-ratelimit-remaining'));
    expect(ok.headers.get('x-ratelimit-limit')).toBe('1000');
    expect(ok.headers.get('x-ratelimit-remaining')).toBe('999');

    // api.md, Limits: both windows exhausted, the 429 names the day, with the key's own number,
    // and Retry-After runs to the day's end; the X-RateLimit-* headers describe the hour (tie rule).
    const [daily] = quote(API, /names the day \(`(Daily limit of 10000 requests reached)`\)/);
    const { key: small } = await stack.createKey({ permissions: ['FLOWS:READ'], rateLimits: { hour: 2, day: 2 } });
    for (let i = 0; i < 2; i++) expect((await stack.call('GET', '/v1/flows', { key: small })).status).toBe(200);
    const sentAt = nowSeconds();
    const limited = await stack.call('GET', '/v1/flows', { key: small });
    const answeredAt = nowSeconds();
    expect(limited).toMatchObject({ status: 429, body: error('Rate limit exceeded', daily!.replace('10000', '2')) });
    // Whole seconds either side of the decision, however the gateway rounds.
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(endOfDay(answeredAt) - answeredAt - 1);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(endOfDay(sentAt) - sentAt + 1);
    expect(limited.headers.get('x-ratelimit-limit')).toBe('2');
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
  }, 30_000 + hourEndWaitMs(20));

  it('meters a key: usage, usage events as JSON pages and NDJSON, and a revoked_key_use alert', async () => {
    const { key, id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const statuses: number[] = [];
    const send = async (method: string, body?: unknown) => {
      const { status } = await stack.call(method, '/v1/flows', { key, body });
      statuses.push(status);
      return status;
    };
    expect(await send('GET')).toBe(200);
    expect(await send('GET')).toBe(200);
    expect(await send('POST', { name: 'f' })).toBe(403);
    await stack.call('POST', `/v1/api-keys/${id}/revoke`);
    // Auth follows a revocation within 250 ms: a request in between is still allowed, and counted so.
    await waitFor('the revoked key to be refused', async () => (await send('GET')) === 401);
    const count = (status: number) => statuses.filter((s) => s === status).length;

    // DESIGN §7: `requests` counts every request presented with the key.
    const usage = await waitFor(
      'the usage of the key',
      async () => {
        const answer = await stack.call('GET', `/v1/api-keys/${id}/usage`);
        const current = answer.body.data.at(-1);
        return current.requests === statuses.length ? answer : null;
      },
      20_000,
      100,
    );
    expect(usage.body.keyId).toBe(id);
    expect(usage.body.granularity).toBe('hour');
    expect(usage.body.data).toHaveLength(25); // the gateway README: the current hour and the 24 before it
    const current = usage.body.data.at(-1);
    expect(Object.keys(current)).toEqual(['start', 'requests', 'allowed', 'forbidden', 'rateLimited', 'unauthorized']);
    expect(current).toMatchObject({ allowed: count(200), forbidden: 1, rateLimited: 0, unauthorized: count(401) });

    const page = await stack.call('GET', `/v1/api-keys/${id}/events?limit=2`);
    expect(page.status).toBe(200);
    expect(page.body.data).toHaveLength(2);
    expect(page.body.nextCursor).toEqual(expect.any(String));
    const streamed = await fetch(`${stack.gateway.url}/v1/api-keys/${id}/events?limit=2`, {
      headers: { authorization: `Bearer ${stack.adminKey}`, accept: 'application/x-ndjson' },
    });
    expect(streamed.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await streamed.text()).trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.slice(0, 2)).toEqual(page.body.data);
    expect(lines.length).toBe(statuses.length); // every event of the range, past the first page
    const times = lines.map((event) => event.occurredAt);
    expect([...times].sort().reverse()).toEqual(times);
    const outcomes = { 200: 'allowed', 403: 'forbidden', 401: 'unauthorized' } as Record<number, string>;
    expect(lines.map((event) => event.outcome).reverse()).toEqual(statuses.map((status) => outcomes[status]));

    // api.md, Usage: which `Accept` headers get NDJSON.
    const [json1, json2, ndjson] = quote(API, /listed first: `([^`]+)` and `([^`]+)` are JSON, `([^`]+)` is NDJSON/);
    const typeFor = async (accept: string) =>
      (await stack.call('GET', `/v1/api-keys/${id}/events?limit=1`, { headers: { accept } })).headers.get('content-type');
    expect([await typeFor(json1!), await typeFor(json2!), await typeFor(ndjson!)]).toEqual(['application/json', 'application/json', 'application/x-ndjson']);

    // api.md, Usage: a range inside one millisecond is valid; reversed, it is a 400.
    const [range, fromAfterTo] = quote(API, /\(`(from=[^`]+&to=[^`]+)`\) is valid.*?400 `(from: must not be after to)`/);
    const empty = await stack.call('GET', `/v1/api-keys/${id}/events?${range}`);
    expect(empty).toMatchObject({ status: 200, body: { data: [], nextCursor: null } });
    expect((await stack.call('GET', `/v1/api-keys/${id}/usage?${range}`)).body.data).toHaveLength(1);
    const [from, to] = range!.split('&').map((pair) => pair.slice(pair.indexOf('=') + 1));
    expect(await stack.call('GET', `/v1/api-keys/${id}/events?from=${to}&to=${from}`)).toMatchObject({ status: 400, body: error('Bad Request', fromAfterTo!) });

    // api.md, alerts: `revoked_key_use` is critical, and its evidence is the table's row.
    const alerts = await waitFor(
      'the revoked_key_use alert',
      async () => {
        const answer = await stack.call('GET', `/v1/alerts?keyId=${id}&type=revoked_key_use`);
        return answer.body.data.length > 0 ? answer : null;
      },
      20_000,
      100,
    );
    const [alert] = alerts.body.data;
    expect(Object.keys(alert)).toEqual(['id', 'type', 'severity', 'keyId', 'accountId', 'detectedAt', 'summary', 'evidence']);
    expect(alert).toMatchObject({ id: expect.stringMatching(/^alrt_[0-9A-Z]{26}$/), type: 'revoked_key_use', severity: 'critical', keyId: id, accountId: 'acc_root' });
    expect(alert.detectedAt).toMatch(ISO);
    expect(Object.keys(alert.evidence).sort()).toEqual(evidenceFields('revoked_key_use'));
    expect(alert.evidence.reason).toBe('revoked');
  }, 60_000);

  it('refuses test keys what docs/api.md says they cannot have or do', async () => {
    const granted = await stack.call('POST', '/v1/api-keys', { body: { name: 't', environment: 'test', permissions: ['KEYS:READ'] } });
    expect(granted).toMatchObject({ status: 400, body: { error: 'Bad Request' } });
    const { key } = await stack.createKey({ environment: 'test', permissions: ['FLOWS:*'] });
    expect(key).toMatch(/^tv_test_/);
    // api.md, Test keys: 403 `Missing required permission: KEYS:READ`, `KEYS:WRITE` or `AUDIT:READ`.
    const [read, write, audit] = quote(API, /\(403 `Missing required permission: (KEYS:READ)`, `(KEYS:WRITE)` or `(AUDIT:READ)`/);
    const missing = (permission: string) => ({ status: 403, body: error('Forbidden', `Missing required permission: ${permission}`) });
    expect(await stack.call('GET', '/v1/api-keys', { key })).toMatchObject(missing(read!));
    expect(await stack.call('POST', '/v1/api-keys', { key, body: { name: 'x', environment: 'test', permissions: [] } })).toMatchObject(missing(write!));
    expect(await stack.call('GET', '/v1/alerts', { key })).toMatchObject(missing(audit!));
    expect(await stack.call('GET', '/v1/audit/events', { key })).toMatchObject(missing(audit!));
  });
});

/** The evidence fields docs/api.md's table lists for an alert type, sorted (values in parentheses are not fields). */
function evidenceFields(type: string): string[] {
  const [row] = quote(API, new RegExp(`\\| \`${type}\` \\| ([^|]+) \\|`));
  return [...row!.replace(/\([^)]*\)/g, '').matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]!).sort();
}

describe('the services READMEs\' Configuration tables', () => {
  interface Row {
    name: string;
    /** The documented default, or null for `unset`/`empty`/a value that is not the raw variable. */
    value: string | null;
  }

  /** Each variable of a README's "## Configuration" table with its documented default. */
  function configurationTable(app: string): Row[] {
    const [table] = quote(repoFile(`apps/${app}/README.md`), /## Configuration\n\n([\s\S]*?)\n\n/);
    return table!
      .split('\n')
      .slice(2)
      .flatMap((line) => {
        const [names = '', defaults = ''] = line.split(' | ').map((cell) => cell.replace(/^\| /, ''));
        const variables = [...names.matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1]!);
        const values = defaults.split(/ \/ |, /);
        return variables.map((name, i) => {
          const value = (variables.length === 1 ? defaults : (values[i] ?? '')).match(/^`([^`]*)`/);
          return { name, value: value ? value[1]! : null };
        });
      });
  }

  /** The names a loader reads, and what it makes of an environment. */
  function reads(load: (env: NodeJS.ProcessEnv) => unknown): Set<string> {
    const names = new Set<string>();
    load(new Proxy({} as NodeJS.ProcessEnv, { get: (_target, name) => (typeof name === 'string' && names.add(name), undefined) }));
    return names;
  }

  const loaders: Record<string, (env: NodeJS.ProcessEnv) => unknown> = {
    gateway: loadGatewayConfig,
    keys: loadKeysConfig,
    auth: loadAuthConfig,
    metering: loadMeteringConfig,
  };
  // The gateway README gives the route table's path inside the app; the config holds it absolute.
  const notRawValues = new Set(['ROUTES_FILE']);

  it.each(Object.keys(loaders))('%s: every variable read is listed, every one listed is read, with its default', (app) => {
    const load = loaders[app]!;
    const rows = configurationTable(app);
    expect(rows.map((row) => row.name).sort()).toEqual([...reads(load)].sort());
    const defaults = load({});
    for (const { name, value } of rows) {
      if (value === null || notRawValues.has(name)) continue;
      expect([name, load({ [name]: value })]).toEqual([name, defaults]);
    }
  });

  it('demo-api: PORT, HOST and LOG_LEVEL with their defaults', () => {
    const [config] = quote(prose('apps/demo-api/README.md'), /Config: ((?:`[A-Z_]+` \([^)]+\)(?:, )?)+)/);
    const rows = [...config!.matchAll(/`([A-Z_]+)` \(([^)]+)\)/g)].map((m) => ({ name: m[1]!, value: m[2]! }));
    expect([...reads(loadDemoApiConfig)].sort()).toEqual(rows.map((row) => row.name).sort());
    const defaults = loadDemoApiConfig({});
    for (const { name, value } of rows) expect([name, loadDemoApiConfig({ [name]: value })]).toEqual([name, defaults]);
  });
});
