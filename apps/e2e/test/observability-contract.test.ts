import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AlertType } from '@keyplane/contracts';
import { generateKey } from '@keyplane/key-format';
import { freePort, freshDatabase, freshNamespace, TEST_NATS_URL, waitFor, type FreshDatabase, type FreshNamespace } from '@keyplane/testing';
import { scrape, labelsServed, type Family } from './metric-families.js';
import { metricTotal } from './metrics-total.js';
import { rawRequest } from './raw-http.js';
import { buildOnce, spawnService, type ServiceProcess } from './service-process.js';
import { startStack, type Stack } from './stack.js';

// Observability as the on-call engineer uses it during an incident (docs/operations.md "Probes
// and metrics"): one request followed across services by its request id, metrics named and
// labelled as documented and safe from cardinality blow-ups, failure counters present before
// the first failure, client mistakes kept out of warn/error, and a crash that leaves one JSON
// line. operations.test.ts covers probes under outages, LOG_LEVEL and secrets; not repeated here.

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface LogLine {
  level: number;
  name: string;
  msg: string;
  [field: string]: unknown;
}

const parseLines = (lines: readonly string[]): LogLine[] => lines.map((line) => JSON.parse(line) as LogLine);

describe('observability of a running stack', () => {
  let stack: Stack;
  /** Each service's internal port, where /metrics is. */
  let metricsUrl: Record<'gateway' | 'keys' | 'auth' | 'metering', string>;

  beforeAll(async () => {
    stack = await startStack('obs', { metering: {}, authReplicas: 1 });
    metricsUrl = { gateway: stack.gateway.metricsUrl, keys: stack.keys.url, auth: stack.auth[0].url, metering: stack.metering()!.url };
  }, 90_000);

  afterAll(async () => {
    await stack?.close();
  }, 60_000);

  /** The usage events of one key, as the management API serves them. */
  const usageEvents = async (keyId: string) => (await stack.call('GET', `/v1/api-keys/${keyId}/events?limit=1000`)).body.data as { requestId: string; outcome: string; path: string }[];

  // Runs first: only a fresh process shows whether a failure series exists before its first failure.
  it('exports the failure counters an alert rule watches at 0 from start-up, so increase() sees the first failure after a restart', async () => {
    const zero = (family: Family | undefined, labels: Record<string, string>) =>
      family?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    const gateway = await scrape(metricsUrl.gateway);
    const auth = await scrape(metricsUrl.auth);
    const metering = await scrape(metricsUrl.metering);
    const expected = [
      ...['unavailable', 'timeout'].map((kind) => ({ series: `gateway_upstream_errors_total{kind="${kind}"}`, value: zero(gateway.get('gateway_upstream_errors_total'), { kind }) })),
      { series: 'auth_decisions_total{outcome="error",reason="quota_store"}', value: zero(auth.get('auth_decisions_total'), { outcome: 'error', reason: 'quota_store' }) },
      ...AlertType.options.map((type) => ({ series: `metering_alerts_raised_total{type="${type}"}`, value: zero(metering.get('metering_alerts_raised_total'), { type }) })),
      ...['delivered', 'retry', 'failed'].map((result) => ({
        series: `metering_alert_webhook_deliveries_total{result="${result}"}`,
        value: zero(metering.get('metering_alert_webhook_deliveries_total'), { result }),
      })),
      ...['stored', 'duplicate', 'past_retention'].map((result) => ({
        series: `metering_events_ingested_total{result="${result}"}`,
        value: zero(metering.get('metering_events_ingested_total'), { result }),
      })),
    ];
    expect(expected).toEqual(expected.map(({ series }) => ({ series, value: 0 })));
  });

  it('one request is followed by its X-Request-Id: the answer, the usage event and the gateway log line of an upstream failure carry the same requestId', async () => {
    const { key, id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const traced = `trace-${randomBytes(6).toString('hex')}`;
    const forbiddenId = `trace-${randomBytes(6).toString('hex')}`;
    const failedId = `trace-${randomBytes(6).toString('hex')}`;

    const allowed = await stack.call('GET', '/v1/flows', { key, headers: { 'x-request-id': traced } });
    const forbidden = await stack.call('POST', '/v1/flows', { key, body: {}, headers: { 'x-request-id': forbiddenId } });
    const generated = await stack.call('GET', '/v1/flows', { key });
    // A gateway in front of an upstream that is not there: the client gets a 502 and its request id.
    const down = await stack.startGateway({ UPSTREAM_URL: `http://127.0.0.1:${await freePort()}` });
    const logsBefore = stack.logs.lines.length;
    const failed = await fetch(`${down.url}/v1/flows`, { headers: { authorization: `Bearer ${key}`, 'x-request-id': failedId } });
    const failedBody = await failed.json();

    expect([allowed.status, forbidden.status, failed.status]).toEqual([200, 403, 502]);
    expect(failedBody).toEqual({ error: 'Bad Gateway', details: 'Upstream unavailable' });
    expect([allowed.headers.get('x-request-id'), forbidden.headers.get('x-request-id'), failed.headers.get('x-request-id')]).toEqual([traced, forbiddenId, failedId]);
    const generatedId = generated.headers.get('x-request-id');
    expect(generatedId).toMatch(/^req_[0-9a-f-]{36}$/);

    // The usage event metering stored (and serves) for each of them.
    const events = await waitFor(
      'the four usage events served by metering',
      async () => {
        const data = await usageEvents(id);
        return data.length >= 4 ? data : undefined;
      },
      20_000,
      200,
    );
    const byRequest = Object.fromEntries(events.map((event) => [event.requestId, event.outcome]));
    expect(byRequest).toEqual({ [traced]: 'allowed', [forbiddenId]: 'forbidden', [generatedId!]: 'allowed', [failedId]: 'allowed' });

    // At the default LOG_LEVEL (info), the failure is in the gateway's log under the same requestId.
    const upstreamFailures = parseLines(stack.logs.lines.slice(logsBefore)).filter((line) => line.msg === 'upstream request failed');
    expect(upstreamFailures.map(({ level, name, requestId, method, kind }) => ({ level, name, requestId, method, kind }))).toEqual([
      { level: 40, name: 'gateway', requestId: failedId, method: 'GET', kind: 'unavailable' },
    ]);
    expect(upstreamFailures[0].err).toMatchObject({ message: expect.any(String) });
    const downMetrics = await scrape(down.metricsUrl);
    expect(downMetrics.get('gateway_upstream_errors_total')?.samples.find((s) => s.labels.kind === 'unavailable')?.value).toBe(1);
  }, 60_000);

  it('client mistakes (401, 403, 404, 405, 429, 400) leave no warn or error line, and no service logs a line per request at info', async () => {
    const { key: limited } = await stack.createKey({ permissions: ['FLOWS:READ'], rateLimits: { hour: 1 } });
    const { key: reader, id: readerId } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const { key: revoked, id: revokedId } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    expect((await stack.call('POST', `/v1/api-keys/${revokedId}/revoke`, { body: {} })).status).toBe(200);
    await stack.call('GET', '/v1/flows', { key: limited });
    const before = stack.logs.lines.length;

    const statuses: number[] = [];
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all([
        stack.call('GET', '/v1/flows', { key: null }),
        stack.call('GET', '/v1/flows', { key: 'tv_live_notakey' }),
        stack.call('GET', '/v1/flows', { key: generateKey({ environment: 'live' }).key }),
        stack.call('GET', '/v1/flows', { key: revoked }),
        stack.call('POST', '/v1/flows', { key: reader, body: {} }),
        stack.call('GET', `/v1/no-such-${round}`, { key: reader }),
        stack.call('GET', `/no-such-${round}`, { key: null }),
        stack.call('PUT', '/v1/flows', { key: reader, body: {} }),
        stack.call('GET', '/v1/flows', { key: limited }),
        stack.call('POST', '/v1/api-keys', { body: { name: 'x', permissions: ['FLOW:READ'] } }),
        stack.call('POST', '/v1/api-keys', { body: '{not json' }),
        stack.call('GET', `/v1/api-keys/${readerId}/usage?granularity=minute`),
      ]);
      statuses.push(...answers.map((answer) => answer.status));
    }
    expect([...new Set(statuses)].sort()).toEqual([400, 401, 403, 404, 405, 429]);
    const requests = statuses.length;
    await waitFor('metering has the flood', async () => (await usageEvents(readerId)).length >= 15, 20_000, 200);

    const logged = parseLines(stack.logs.lines.slice(before));
    const loud = logged.filter((line) => line.level >= 40).map(({ name, msg }) => `${name}: ${msg}`);
    expect(loud).toEqual([]);
    // Alerts are logged as they are raised (one each, not one per request); nothing else at info.
    const perRequest = logged.filter((line) => line.level >= 30 && line.alertId === undefined).map(({ name, msg }) => `${name}: ${msg}`);
    expect({ requests, perRequest }).toEqual({ requests, perRequest: [] });
  }, 60_000);

  it('no label holds a raw path, key id, account id or request id: random paths and ids all fall into route templates', async () => {
    const { key, id } = await stack.createKey({ permissions: ['FLOWS:READ', 'KEYS:READ'] });
    const tokens = Array.from({ length: 6 }, () => `z${randomBytes(5).toString('hex')}`);
    const [flowId, unknownPath, outside, keyPath, requestId, method] = tokens;
    await stack.call('GET', `/v1/flows/${flowId}`, { key, headers: { 'x-request-id': requestId } });
    await stack.call('GET', `/v1/${unknownPath}/deeper`, { key });
    await stack.call('GET', `/${outside}`, { key: null });
    await stack.call('GET', `/v1/api-keys/key_${keyPath}/usage`, { key });
    await stack.call('GET', `/v1/api-keys/${id}`, { key });
    await stack.call('GET', `/v1/flows?${method}=1`, { key });

    const leaks: string[] = [];
    const routes = new Set<string>();
    for (const [service, url] of Object.entries(metricsUrl)) {
      for (const [name, family] of await scrape(url)) {
        for (const sample of family.samples) {
          for (const [label, value] of Object.entries(sample.labels)) {
            if (tokens.some((token) => value.includes(token)) || /key_[0-9A-Z]{26}|acc_\w+|req_[0-9a-f-]{8,}|trace-/.test(value)) leaks.push(`${service} ${name}{${label}="${value}"}`);
          }
          if (name === 'gateway_requests_total') routes.add(sample.labels.route);
        }
      }
    }
    expect(leaks).toEqual([]);
    expect([...routes]).toEqual(expect.arrayContaining(['GET /v1/flows/:id', 'GET /v1/api-keys/:id/usage', 'GET /v1/api-keys/:id', 'unmatched', 'not_found']));
    for (const route of routes) expect({ route, template: /^(unmatched|not_found|unrouted|[A-Z]+ \/[a-z0-9\-/:.]*)$/.test(route) }).toEqual({ route, template: true });
  }, 60_000);

  it('counts in gateway_requests_total the answers given before any route runs', async () => {
    const counted = (status: number) => metricTotal(metricsUrl.gateway, 'gateway_requests_total{', (line) => line.includes(`status="${status}"`));
    const before = { 400: await counted(400), 417: await counted(417), 431: await counted(431) };
    const statuses = [
      (await rawRequest(stack.gateway.url, 'GET /v1/flows/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status,
      (await rawRequest(stack.gateway.url, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')).status,
      (await rawRequest(stack.gateway.url, `GET /v1/flows HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)).status,
      (await rawRequest(stack.gateway.url, 'GET /v1/flows HTTP/1.1\r\nHost: x\r\nExpect: foo\r\n\r\n')).status,
    ];
    expect(statuses).toEqual([400, 400, 431, 417]);
    await waitFor('every answer counted', async () => (await counted(400)) - before[400] === 2 && (await counted(431)) - before[431] === 1 && (await counted(417)) - before[417] === 1, 5_000, 50);
  });

  it('every service follows the Prometheus naming conventions, with HELP text and the default process and nodejs metrics', async () => {
    const problems: string[] = [];
    for (const [service, url] of Object.entries(metricsUrl)) {
      const scraped = await scrape(url);
      for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
        if (!scraped.has(name)) problems.push(`${service}: no ${name}`);
      }
      for (const [name, { type, help }] of scraped) {
        if (name.startsWith('process_') || name.startsWith('nodejs_')) continue;
        if (!name.startsWith(`${service}_`)) problems.push(`${service}: ${name} is not prefixed with the service`);
        if (!help) problems.push(`${service}: ${name} has no HELP`);
        if (type === 'counter' && !name.endsWith('_total')) problems.push(`${service}: counter ${name} does not end in _total`);
        if (type !== 'counter' && name.endsWith('_total')) problems.push(`${service}: ${type} ${name} ends in _total`);
        if (/_(ms|milliseconds|millis|minutes|hours)$/.test(name)) problems.push(`${service}: ${name} is not in base units`);
        if ((type === 'histogram' || type === 'summary') && /duration|latency|time|decision$/.test(name) && !name.endsWith('_seconds')) problems.push(`${service}: ${name} is a duration not in _seconds`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every metric the docs name exists on its service with exactly the labels they give it', async () => {
    const docs = ['docs/operations.md', 'apps/gateway/README.md', 'apps/keys/README.md', 'apps/auth/README.md', 'apps/metering/README.md'];
    const scraped = Object.fromEntries(await Promise.all(Object.entries(metricsUrl).map(async ([service, url]) => [service, await scrape(url)] as const)));
    const problems: string[] = [];
    let checked = 0;
    for (const doc of docs) {
      const text = readFileSync(join(repoRoot, doc), 'utf8');
      for (const [, name, service, labelText] of text.matchAll(/`((gateway|keys|auth|metering)_[a-z_]+)(?:\{([^}`]*)\})?/g)) {
        if ((AlertType.options as readonly string[]).includes(name)) continue;
        const family = scraped[service].get(name);
        if (family?.type === undefined) {
          problems.push(`${doc}: ${name} is not on ${service}'s /metrics`);
          continue;
        }
        if (labelText === undefined || family.samples.length === 0) continue;
        const documented = labelText.split(',').map((label) => label.split('=')[0].trim()).sort();
        const actual = labelsServed(family);
        checked++;
        if (documented.join(',') !== actual.join(',')) problems.push(`${doc}: ${name}{${documented.join(',')}} is served as ${name}{${actual.join(',')}}`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });

  it('/readyz names exactly the checks docs/operations.md lists for each service', async () => {
    const documented: Record<string, string[]> = {
      keys: ['migrations', 'nats', 'postgres', 'relay'],
      auth: ['key-view', 'nats', 'postgres'],
      metering: ['nats', 'postgres', 'usage-consumer'],
      gateway: ['nats'],
    };
    const urls = { ...metricsUrl, 'demo-api': stack.demo.url };
    for (const [service, url] of Object.entries(urls)) {
      const response = await fetch(`${url}/readyz`);
      const body = (await response.json()) as { status: string; checks: Record<string, boolean> };
      expect({ service, status: response.status, body: { status: body.status, checks: Object.keys(body.checks).sort() } }).toEqual({
        service,
        status: 200,
        body: { status: 'ready', checks: documented[service] ?? [] },
      });
    }
  });

  it('every log line that names a request calls it requestId (never reqId, req or request_id)', () => {
    const offenders = parseLines(stack.logs.lines).filter((line) => 'reqId' in line || 'req' in line || 'request_id' in line || 'requestID' in line);
    expect(offenders.map(({ name, msg }) => `${name}: ${msg}`)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// A crash as a process: one fatal JSON line, exit code 1
// ---------------------------------------------------------------------------------------------

describe('an uncaught exception or unhandled rejection', () => {
  let dir: string;
  let hook: string;
  let database: FreshDatabase;
  let ns: FreshNamespace;
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    buildOnce();
    // Loaded into the service with --import: SIGUSR2 makes it throw, or reject, outside any handler.
    dir = mkdtempSync(join(tmpdir(), 'kp-obs-'));
    hook = join(dir, 'crash-on-sigusr2.mjs');
    writeFileSync(
      hook,
      `process.on('SIGUSR2', () => {
  if (process.env.CRASH_KIND === 'rejection') Promise.reject(new Error('injected rejection ' + process.env.CRASH_MARK));
  else throw new Error('injected exception ' + process.env.CRASH_MARK);
});
`,
    );
    database = await freshDatabase('obs_crash');
    ns = freshNamespace();
  }, 120_000);

  afterAll(async () => {
    for (const proc of running) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
    await Promise.all(running.map((proc) => proc.exited));
    await ns?.cleanup().catch(() => undefined);
    await database?.drop().catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it.each([
    ['keys', 'rejection'],
    ['auth', 'exception'],
    ['metering', 'rejection'],
    ['gateway', 'exception'],
    ['demo-api', 'rejection'],
  ])('%s: an unhandled %s ends the process with one fatal JSON line and exit code 1, nothing on stderr', async (service, kind) => {
    const mark = randomBytes(4).toString('hex');
    const port = await freePort();
    const env: Record<string, string> = {
      NATS_URL: TEST_NATS_URL,
      NATS_PREFIX: ns.ns.prefix,
      DATABASE_URL: database.url,
      HTTP_PORT: String(port),
      HTTP_HOST: '127.0.0.1',
      ...(service === 'gateway' && { PORT: String(await freePort()), HOST: '127.0.0.1', METRICS_PORT: String(port) }),
      ...(service === 'demo-api' && { PORT: String(port), HOST: '127.0.0.1' }),
      BOOTSTRAP_ADMIN_KEY: generateKey({ environment: 'live' }).key,
      NODE_OPTIONS: `--import=${pathToFileURL(hook).href}`,
      CRASH_KIND: kind,
      CRASH_MARK: mark,
    };
    const proc = spawnService(service, env);
    running.push(proc);
    await waitFor(`${service} alive`, async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200, 60_000, 100).catch((error: Error) => {
      throw new Error(`${error.message}\n${proc.output().slice(-2000)}`);
    });

    proc.child.kill('SIGUSR2');
    const exit = await proc.exited;

    expect({ exit, stderr: proc.stderr() }).toEqual({ exit: { code: 1, signal: null }, stderr: '' });
    const lines = proc.stdout().split('\n').filter(Boolean);
    const notJson = lines.filter((line) => !line.startsWith('{'));
    expect(notJson).toEqual([]);
    const fatal = parseLines(lines).filter((line) => line.level === 60);
    const label = kind === 'rejection' ? 'unhandled rejection' : 'uncaught exception';
    expect(fatal.map(({ name, kind: logged, msg }) => ({ name, kind: logged, msg }))).toEqual([{ name: service, kind: label, msg: `${label}: injected ${kind} ${mark}` }]);
    expect(fatal[0].err).toMatchObject({ type: 'Error', stack: expect.stringContaining(`injected ${kind} ${mark}`) });
  }, 90_000);
});
