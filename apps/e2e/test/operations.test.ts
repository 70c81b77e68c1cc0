import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { ServiceHandle } from '@keyplane/runtime';
import { dropDatabase } from '@keyplane/database';
import { generateKey } from '@keyplane/key-format';
import { CapturedLogs, freePort, freshDatabase, freshNamespace, TEST_NATS_URL, waitFor, type FreshDatabase, type FreshNamespace } from '@keyplane/testing';
import { loadAuthConfig } from '../../auth/src/config.js';
import { startAuthService } from '../../auth/src/start.js';
import { loadDemoApiConfig } from '../../demo-api/src/config.js';
import { startDemoApiService } from '../../demo-api/src/start.js';
import { loadGatewayConfig } from '../../gateway/src/config.js';
import { startGatewayService, type GatewayHandle } from '../../gateway/src/start.js';
import { loadKeysConfig } from '../../keys/src/config.js';
import { startKeysService } from '../../keys/src/start.js';
import { loadMeteringConfig } from '../../metering/src/config.js';
import { startMeteringService } from '../../metering/src/start.js';
import { buildOnce, spawnService, type ServiceProcess } from './service-process.js';
import { TcpProxy } from './tcp-proxy.js';

// Operability as a Kubernetes operator sees it (DESIGN §9–§10, docs/operations.md, the
// services' READMEs): probes and metrics on every service's internal port, readiness that
// follows NATS and Postgres, configuration errors that name the variable and never print a
// secret, JSON logs without secrets, graceful SIGTERM, and infra/ agreeing with the code.

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SERVER_DB_BASE = (process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/$/, '');
const SERVER_DB = new URL(SERVER_DB_BASE);
const SERVER_NATS = new URL(TEST_NATS_URL.replace(/^nats:/, 'http:'));

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

interface Family {
  type?: string;
  help?: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** A strict reader of the Prometheus text exposition format 0.0.4; returns the families and every violation found. */
export function parsePrometheus(text: string): { families: Map<string, Family>; errors: string[] } {
  const families = new Map<string, Family>();
  const errors: string[] = [];
  const seenSeries = new Set<string>();
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { samples: [] }));
    return f;
  };
  const familyOf = (sample: string) => {
    for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
      if (sample.endsWith(suffix)) {
        const base = sample.slice(0, -suffix.length);
        const type = families.get(base)?.type;
        if (type === 'histogram' || type === 'summary' || (suffix === '_total' && type === 'counter')) return base;
      }
    }
    return sample;
  };
  if (!text.endsWith('\n')) errors.push('the exposition does not end with a newline');
  text.split('\n').forEach((line, index) => {
    const at = `line ${index + 1} (${JSON.stringify(line.slice(0, 120))})`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!meta) return; // a plain comment
      const [, kind, name, rest = ''] = meta;
      if (!NAME.test(name)) errors.push(`${at}: invalid metric name`);
      const f = family(name);
      if (kind === 'HELP') {
        if (f.help !== undefined) errors.push(`${at}: second HELP for ${name}`);
        f.help = rest;
      } else {
        if (f.type !== undefined) errors.push(`${at}: second TYPE for ${name}`);
        if (f.samples.length > 0) errors.push(`${at}: TYPE after samples of ${name}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) errors.push(`${at}: unknown type ${rest}`);
        f.type = rest;
      }
      return;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+(-?\d+))?$/.exec(line);
    if (!sample) {
      errors.push(`${at}: not a sample line`);
      return;
    }
    const [, name, rawLabels = '', rawValue] = sample;
    const labels: Record<string, string> = {};
    let rest = rawLabels.trim();
    while (rest.length > 0) {
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,\s*)?/.exec(rest);
      if (!label) {
        errors.push(`${at}: bad label set`);
        break;
      }
      if (label[1] in labels) errors.push(`${at}: label ${label[1]} twice`);
      labels[label[1]] = label[2];
      rest = rest.slice(label[0].length);
    }
    const value = /^[+-]?Inf$/.test(rawValue) ? (rawValue.startsWith('-') ? -Infinity : Infinity) : rawValue === 'NaN' ? NaN : Number(rawValue);
    if (rawValue !== 'NaN' && Number.isNaN(value)) errors.push(`${at}: value ${rawValue} is not a number`);
    const series = `${name}{${Object.entries(labels).sort().map(([k, v]) => `${k}=${v}`).join(',')}}`;
    if (seenSeries.has(series)) errors.push(`${at}: series ${series} twice`);
    seenSeries.add(series);
    const base = familyOf(name);
    const f = family(base);
    if (f.type === undefined) errors.push(`${at}: sample of ${base} without a TYPE line`);
    if (f.type === 'histogram' && name.endsWith('_bucket') && labels.le === undefined) errors.push(`${at}: bucket without le`);
    f.samples.push({ name, labels, value });
  });
  // Every histogram series has a +Inf bucket equal to its _count.
  for (const [name, f] of families) {
    if (f.type !== 'histogram') continue;
    const key = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
    const inf = new Map(f.samples.filter((s) => s.name === `${name}_bucket` && s.labels.le === '+Inf').map((s) => [key(s.labels), s.value]));
    for (const count of f.samples.filter((s) => s.name === `${name}_count`)) {
      if (inf.get(key(count.labels)) !== count.value) errors.push(`${name}: _count ${count.value} differs from the +Inf bucket ${inf.get(key(count.labels))}`);
    }
  }
  return { families, errors };
}

async function get(url: string): Promise<{ status: number; type: string | null; text: string; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, type: response.headers.get('content-type'), text, json };
}

/** Runs a service that is expected to refuse to start; returns its exit and everything it printed. */
async function runToFailure(name: string, env: Record<string, string>, timeoutMs = 15_000) {
  const proc = spawnService(name, env);
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
  const exit = await proc.exited;
  clearTimeout(timer);
  return { ...exit, stdout: proc.stdout(), stderr: proc.stderr(), output: proc.output() };
}

function jsonLines(text: string): { parsed: Record<string, unknown>[]; notJson: string[] } {
  const parsed: Record<string, unknown>[] = [];
  const notJson: string[] = [];
  for (const line of text.split('\n').filter((l) => l.trim() !== '')) {
    try {
      parsed.push(JSON.parse(line));
    } catch {
      notJson.push(line);
    }
  }
  return { parsed, notJson };
}

function withPort(url: string, port: number, path?: string, password?: string): string {
  const u = new URL(url);
  u.port = String(port);
  if (path !== undefined) u.pathname = path;
  if (password !== undefined) u.password = password;
  return u.toString().replace(/\/$/, '');
}

// ---------------------------------------------------------------------------------------------
// Probes, metrics and readiness, in process, over forwarders we can cut
// ---------------------------------------------------------------------------------------------

describe('probes, metrics and readiness of every service', () => {
  let database: FreshDatabase;
  let ns: FreshNamespace;
  let pg: TcpProxy;
  let nats: TcpProxy;
  const logs = new CapturedLogs();
  const adminKey = generateKey({ environment: 'live' }).key;
  const DB_PASSWORD = `pgPw${randomBytes(6).toString('hex')}`;
  const NATS_PASSWORD = `natsPw${randomBytes(6).toString('hex')}`;
  let keys: ServiceHandle;
  let auth: ServiceHandle;
  let metering: ServiceHandle;
  let demo: ServiceHandle;
  let gateway: GatewayHandle;
  /** The internal (probe/metrics) base URL of each service. */
  let internal: Record<string, string>;

  beforeAll(async () => {
    database = await freshDatabase('ops');
    ns = freshNamespace();
    pg = await TcpProxy.start(SERVER_DB.hostname, Number(SERVER_DB.port || 5432));
    nats = await TcpProxy.start(SERVER_NATS.hostname, Number(SERVER_NATS.port || 4222));
    const dbUrl = withPort(database.url, pg.port, undefined, DB_PASSWORD);
    const common = {
      NATS_URL: `nats://svc:${NATS_PASSWORD}@127.0.0.1:${nats.port}`,
      NATS_PREFIX: ns.ns.prefix,
      HTTP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      DATABASE_URL: dbUrl,
    };
    keys = await startKeysService(loadKeysConfig({ ...common, BOOTSTRAP_ADMIN_KEY: adminKey }), { logDestination: logs });
    auth = await startAuthService(loadAuthConfig({ ...common, DATABASE_POOL_SIZE: '4' }), { logDestination: logs });
    metering = await startMeteringService(loadMeteringConfig({ ...common, INGEST_RETRY_DELAY_MS: '100' }), { logDestination: logs });
    demo = await startDemoApiService(loadDemoApiConfig({ PORT: '0', HOST: '127.0.0.1' }), { logDestination: logs });
    gateway = await startGatewayService(
      loadGatewayConfig({ ...common, PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0', UPSTREAM_URL: demo.url }),
      { logDestination: logs },
    );
    internal = { keys: keys.url, auth: auth.url, metering: metering.url, 'demo-api': demo.url, gateway: gateway.metricsUrl };
    // Some traffic, so labelled series exist.
    const headers = { authorization: `Bearer ${adminKey}` };
    await fetch(`${gateway.url}/v1/api-keys`, { headers });
    await fetch(`${gateway.url}/v1/flows`, { headers });
    await fetch(`${gateway.url}/v1/flows`, { headers: { authorization: 'Bearer nonsense' } });
  }, 60_000);

  afterAll(async () => {
    await pg?.open().catch(() => undefined);
    await nats?.open().catch(() => undefined);
    for (const service of [gateway, demo, auth, metering, keys]) await service?.close().catch(() => undefined);
    await pg?.cut();
    await nats?.cut();
    await ns?.cleanup().catch(() => undefined);
    await database?.drop().catch(() => undefined);
  }, 60_000);

  const names = ['keys', 'auth', 'metering', 'demo-api', 'gateway'];

  it.each(names)('%s: GET /healthz on its internal port is 200 application/json {"status":"ok"}', async (name) => {
    const answer = await get(`${internal[name]}/healthz`);
    expect({ status: answer.status, json: answer.json }).toEqual({ status: 200, json: { status: 'ok' } });
    expect(answer.type).toMatch(/^application\/json/);
  });

  const readyChecks: Record<string, string[]> = {
    keys: ['nats', 'postgres'],
    auth: ['nats', 'postgres', 'key-view'],
    metering: ['nats', 'postgres', 'usage-consumer'],
    gateway: ['nats'],
    'demo-api': [],
  };

  it.each(names)('%s: GET /readyz is 200 {"status":"ready"} with its documented checks all true', async (name) => {
    const answer = await get(`${internal[name]}/readyz`);
    expect(answer.status).toBe(200);
    expect(answer.type).toMatch(/^application\/json/);
    expect(answer.json.status).toBe('ready');
    for (const check of readyChecks[name]) expect({ check, ok: answer.json.checks[check] }).toEqual({ check, ok: true });
    expect(Object.values(answer.json.checks).every((v) => v === true)).toBe(true);
  });

  // docs/operations.md "Probes and metrics" and each README's metric list.
  const documentedMetrics: Record<string, string[]> = {
    gateway: [
      'gateway_requests_total',
      'gateway_auth_decision_seconds',
      'gateway_service_requests_waiting',
      'gateway_rejected_locally_total',
      'gateway_last_used_unavailable_total',
      'gateway_upstream_errors_total',
      'gateway_connections_dropped_total',
      'gateway_stalled_readers_closed_total',
      'gateway_open_connections',
    ],
    auth: [
      'auth_decide_duration_seconds',
      'auth_decisions_total',
      'auth_quota_store_calls_total',
      'auth_quota_leased_units_total',
      'auth_quota_released_units_total',
      'auth_key_view_sequence',
      'auth_key_view_keys',
      'auth_key_view_misses_total',
      'auth_key_events_skipped_total',
      'auth_usage_events_pending',
      'auth_usage_events_published_total',
      'auth_usage_messages_published_total',
      'auth_usage_publish_failures_total',
      'auth_usage_events_dropped_total',
      'auth_usage_messages_spilled_total',
      'auth_usage_events_spilled_total',
      'auth_usage_spill_failures_total',
      'auth_usage_messages_drained_total',
      'auth_usage_events_drained_total',
      'auth_usage_spill_events',
      'auth_key_view_refollowed_total',
    ],
    metering: [
      'metering_events_ingested_total',
      'metering_ingest_batch_size',
      'metering_ingest_batch_duration_seconds',
      'metering_ingest_batch_retries_total',
      'metering_dead_letters_total',
      'metering_alerts_raised_total',
      'metering_alert_webhook_deliveries_total',
      'metering_consumer_pending',
      'metering_consumer_ack_pending',
    ],
    keys: ['keys_commands_total', 'keys_queries_total', 'keys_outbox_relay_lag', 'keys_key_event_stream_rebuilds_total'],
    'demo-api': [],
  };

  it.each(names)('%s: GET /metrics is valid Prometheus text 0.0.4 holding its documented series and process metrics', async (name) => {
    const answer = await get(`${internal[name]}/metrics`);
    expect(answer.status).toBe(200);
    expect(answer.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const { families, errors } = parsePrometheus(answer.text);
    expect(errors).toEqual([]);
    const missing = documentedMetrics[name].filter((metric) => families.get(metric)?.type === undefined);
    expect({ name, missing }).toEqual({ name, missing: [] });
    expect(families.get('process_cpu_user_seconds_total') ?? families.get('process_cpu_user_seconds')).toBeDefined();
    // Every series says which service it is from (createMetricsRegistry's default label).
    const unlabelled = [...families.values()].flatMap((f) => f.samples).filter((s) => s.labels.service !== name);
    expect(unlabelled.slice(0, 3)).toEqual([]);
  });

  it('gateway: /metrics is only on METRICS_PORT, never on the public PORT; the probes are on both', async () => {
    const pub = await get(`${gateway.url}/metrics`);
    expect(pub.status).toBe(404);
    expect(pub.text).not.toMatch(/# TYPE/);
    expect(gateway.metricsUrl).not.toBe(gateway.url);
    expect((await get(`${gateway.metricsUrl}/metrics`)).status).toBe(200);
    // Also under a query string or trailing slash, the public port never gives the exposition away.
    for (const path of ['/metrics?x=1', '/metrics/', '/METRICS', '//metrics']) {
      const answer = await get(`${gateway.url}${path}`);
      expect({ path, exposition: /# TYPE/.test(answer.text) }).toEqual({ path, exposition: false });
    }
  });

  it('no probe, metric or log line so far carries the admin key, the Postgres password or the NATS password', async () => {
    const scraped = (await Promise.all(names.map((name) => get(`${internal[name]}/metrics`)))).map((a) => a.text).join('\n');
    const all = `${scraped}\n${logs.text()}`;
    for (const secret of [adminKey, DB_PASSWORD, NATS_PASSWORD]) expect(all.includes(secret)).toBe(false);
    const { notJson } = jsonLines(logs.text());
    expect(notJson).toEqual([]);
  });

  it('Postgres unreachable: keys, auth and metering answer /readyz 503 naming postgres; /healthz and /metrics stay up; 200 again once it is back', async () => {
    const dbServices = ['keys', 'auth', 'metering'];
    let scrapes: { name: string; status: number }[] = [];
    await pg.cut();
    try {
      for (const name of dbServices) {
        const answer = await waitFor(`${name} not ready`, async () => {
          const a = await get(`${internal[name]}/readyz`);
          return a.status === 503 ? a : undefined;
        }, 10_000, 100);
        expect({ name, status: answer.status, body: answer.json }).toEqual({
          name,
          status: 503,
          body: { status: 'not ready', checks: expect.objectContaining({ postgres: false, nats: true }) },
        });
      }
      for (const name of dbServices) {
        expect({ name, healthz: (await get(`${internal[name]}/healthz`)).status }).toEqual({ name, healthz: 200 });
      }
      // The gateway does not use Postgres; it stays ready.
      expect((await get(`${gateway.metricsUrl}/readyz`)).status).toBe(200);
      // Prometheus must still be able to scrape (process metrics, error counters) during the outage.
      scrapes = await Promise.all(dbServices.map(async (name) => ({ name, status: (await get(`${internal[name]}/metrics`)).status })));
    } finally {
      await pg.open();
    }
    for (const name of dbServices) {
      await waitFor(`${name} ready again after Postgres came back`, async () => (await get(`${internal[name]}/readyz`)).status === 200, 15_000, 100);
    }
    // Ready means serving: a key created now authorizes a request.
    const trace: string[] = [];
    const started = Date.now();
    for (let i = 0; i < 40; i++) {
      const t0 = Date.now();
      const created = await fetch(`${gateway.url}/v1/api-keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'after pg outage', permissions: ['FLOWS:READ'] }),
      });
      const body = await created.text();
      trace.push(`${t0 - started}ms +${Date.now() - t0}ms ${created.status} ${created.status === 201 ? '' : body.slice(0, 80)}`);
      if (created.status === 201) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect({ first: trace[0].split(' ')[2], trace }).toEqual({ first: '201', trace });
    expect(scrapes).toEqual(dbServices.map((name) => ({ name, status: 200 })));
  }, 60_000);

  it('NATS unreachable: every NATS service answers /readyz 503 naming nats; 200 again (caught up, consuming) once it is back', async () => {
    const natsServices = ['keys', 'auth', 'metering', 'gateway'];
    await nats.cut();
    try {
      for (const name of natsServices) {
        const answer = await waitFor(`${name} not ready`, async () => {
          const a = await get(`${internal[name]}/readyz`);
          return a.status === 503 ? a : undefined;
        }, 10_000, 100);
        expect({ name, status: answer.status, status_: answer.json.status, nats: answer.json.checks.nats }).toEqual({
          name,
          status: 503,
          status_: 'not ready',
          nats: false,
        });
        expect({ name, healthz: (await get(`${internal[name]}/healthz`)).status }).toEqual({ name, healthz: 200 });
      }
      expect((await get(`${demo.url}/readyz`)).status).toBe(200);
      const scrapes = await Promise.all(natsServices.map(async (name) => ({ name, status: (await get(`${internal[name]}/metrics`)).status })));
      expect(scrapes).toEqual(natsServices.map((name) => ({ name, status: 200 })));
    } finally {
      await nats.open();
    }
    // Poll every service's /readyz together, and act the moment all of them say 200, as a
    // rollout or an alert rule would trust them.
    await waitFor(
      'every NATS service ready again after NATS came back',
      async () => (await Promise.all(natsServices.map(async (name) => (await get(`${internal[name]}/readyz`)).status))).every((status) => status === 200),
      20_000,
      20,
    );
    // And really serving again: a key created now authorizes a request.
    const trace: string[] = [];
    const began = Date.now();
    let created: Response | undefined;
    for (let i = 0; i < 30; i++) {
      const t0 = Date.now();
      created = await fetch(`${gateway.url}/v1/api-keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'after outage', permissions: ['FLOWS:READ'] }),
      });
      const ready = await get(`${internal.keys}/readyz`);
      trace.push(`${t0 - began}ms +${Date.now() - t0}ms ${created.status} keys/readyz=${ready.status}`);
      if (created.status === 201) break;
      await created.text();
      await new Promise((r) => setTimeout(r, 1000));
    }
    // The first request after every /readyz said 200 must be served, not refused.
    expect({ first: trace[0].split(' ')[2], trace }).toEqual({ first: '201', trace });
    const { key } = (await created!.json()) as { key: string };
    expect((await fetch(`${gateway.url}/v1/flows`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    expect(logs.text().includes(key)).toBe(false);
  }, 90_000);

  it('logs the outages without a password (the NATS URL carries the service password in production)', () => {
    const { parsed, notJson } = jsonLines(logs.text());
    expect(notJson).toEqual([]);
    expect(parsed.length).toBeGreaterThan(0);
    for (const secret of [adminKey, DB_PASSWORD, NATS_PASSWORD]) expect(logs.text().includes(secret)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Configuration: bad values stop start-up, naming the variable, printing no secret
// ---------------------------------------------------------------------------------------------

describe('configuration errors at start-up (the service as a process)', () => {
  beforeAll(() => buildOnce(), 120_000);

  const ports = async () => ({
    HTTP_PORT: String(await freePort()),
    PORT: String(await freePort()),
    METRICS_PORT: String(await freePort()),
    HTTP_HOST: '127.0.0.1',
    HOST: '127.0.0.1',
  });

  /** A failed start is one JSON fatal line naming the variable, exit code non-zero, nothing else on stderr. */
  function expectCleanRefusal(result: Awaited<ReturnType<typeof runToFailure>>, variable: string, secrets: string[] = []) {
    expect({ code: result.code === 0 ? 0 : 'non-zero', signal: result.signal }).toEqual({ code: 'non-zero', signal: null });
    expect(result.output).toContain(variable);
    for (const secret of secrets) expect({ variable, leaks: result.output.includes(secret) }).toEqual({ variable, leaks: false });
    const { parsed, notJson } = jsonLines(result.stdout);
    expect({ stderr: result.stderr.split('\n').slice(0, 3), notJson: notJson.slice(0, 3) }).toEqual({ stderr: [''], notJson: [] });
    expect(parsed.some((line) => line.level === 60)).toBe(true);
  }

  const services = ['keys', 'auth', 'metering', 'gateway', 'demo-api'];

  it.each(services)('%s: LOG_LEVEL=verbose (not a pino level) is refused, naming LOG_LEVEL, as a JSON line', async (name) => {
    const result = await runToFailure(name, { ...(await ports()), LOG_LEVEL: 'verbose', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
    expectCleanRefusal(result, 'LOG_LEVEL');
  });

  it.each([
    ['keys', 'HTTP_PORT', 'eighty'],
    ['auth', 'HTTP_PORT', '70000'],
    ['metering', 'HTTP_PORT', '-1'],
    ['gateway', 'PORT', '80a'],
    ['gateway', 'METRICS_PORT', '99999'],
    ['demo-api', 'PORT', 'abc'],
    ['gateway', 'AUTH_TIMEOUT_MS', '-5'],
    ['gateway', 'UPSTREAM_TIMEOUT_MS', '0'],
    ['auth', 'USAGE_FLUSH_TIMEOUT_MS', '-1'],
    ['auth', 'DATABASE_POOL_SIZE', '0'],
    ['metering', 'ALERT_WEBHOOK_TIMEOUT_MS', '-100'],
    ['metering', 'INGEST_BATCH_SIZE', 'lots'],
    ['gateway', 'UPSTREAM_URL', 'ftp://upstream'],
    ['gateway', 'KEY_PREFIX', 'TV!'],
    ['keys', 'KEY_PREFIX', 'Not-A-Prefix'],
  ])('%s: %s=%s stops start-up naming the variable', async (name, variable, value) => {
    const result = await runToFailure(name, { ...(await ports()), [variable]: value, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', NATS_URL: 'nats://127.0.0.1:1' });
    expectCleanRefusal(result, variable);
  });

  it.each(['keys', 'auth', 'metering'])('%s: a malformed DATABASE_URL is refused naming DATABASE_URL, without printing its password', async (name) => {
    const password = `S3cret${randomBytes(4).toString('hex')}`;
    const result = await runToFailure(name, { ...(await ports()), DATABASE_URL: `postgres://postgres:${password}@127.0.0.1:notaport/keyplane` });
    expectCleanRefusal(result, 'DATABASE_URL', [password]);
  });

  it.each(['keys', 'auth', 'metering', 'gateway'])('%s: a malformed NATS_URL is refused naming NATS_URL, without printing its password', async (name) => {
    const password = `N4ts${randomBytes(4).toString('hex')}`;
    const database = await freshDatabase('ops_natsurl');
    try {
      const result = await runToFailure(name, { ...(await ports()), DATABASE_URL: database.url, NATS_URL: `nats://${name}:${password}@127.0.0.1:notaport` });
      expectCleanRefusal(result, 'NATS_URL', [password]);
    } finally {
      await database.drop();
    }
  });

  it('keys: Postgres unreachable stops start-up without printing the DATABASE_URL password', async () => {
    const password = `S3cret${randomBytes(4).toString('hex')}`;
    const result = await runToFailure('keys', { ...(await ports()), DATABASE_URL: `postgres://postgres:${password}@127.0.0.1:${await freePort()}/keyplane` });
    expect(result.code).not.toBe(0);
    expect(result.output.includes(password)).toBe(false);
    expect(jsonLines(result.stdout).notJson).toEqual([]);
  });

  it('auth: NATS unreachable stops start-up without printing the NATS_URL password', async () => {
    const password = `N4ts${randomBytes(4).toString('hex')}`;
    const database = await freshDatabase('ops_nats_down');
    try {
      const result = await runToFailure('auth', { ...(await ports()), DATABASE_URL: database.url, NATS_URL: `nats://auth:${password}@127.0.0.1:${await freePort()}` });
      expect(result.code).not.toBe(0);
      expect(result.output.includes(password)).toBe(false);
      expect(jsonLines(result.stdout).notJson).toEqual([]);
    } finally {
      await database.drop();
    }
  });

  it('keys: a BOOTSTRAP_ADMIN_KEY that is not a live key is refused naming the variable, without echoing the key', async () => {
    const testKey = generateKey({ environment: 'test' }).key;
    const result = await runToFailure('keys', { ...(await ports()), BOOTSTRAP_ADMIN_KEY: testKey, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
    expectCleanRefusal(result, 'BOOTSTRAP_ADMIN_KEY', [testKey, testKey.slice(8)]);
  });

  it('metering: a non-http ALERT_WEBHOOK_URL is refused naming it, without echoing the URL (it may carry a token)', async () => {
    const token = `tok${randomBytes(6).toString('hex')}`;
    const result = await runToFailure('metering', { ...(await ports()), ALERT_WEBHOOK_URL: `ftp://hooks.example/${token}`, ALERT_WEBHOOK_SECRET: 'whsec-x' });
    expectCleanRefusal(result, 'ALERT_WEBHOOK_URL', [token, 'whsec-x']);
  });
});

// ---------------------------------------------------------------------------------------------
// The whole stack as processes: database created if missing, JSON logs without secrets,
// LOG_LEVEL honoured, SIGTERM exits 0 within the grace period
// ---------------------------------------------------------------------------------------------

describe('the stack as processes', () => {
  const dbName = `kp_ops_proc_${randomBytes(4).toString('hex')}`;
  const DB_PASSWORD = `pgProcPw${randomBytes(6).toString('hex')}`;
  const NATS_PASSWORD = `natsProcPw${randomBytes(6).toString('hex')}`;
  const WEBHOOK_SECRET = `whsec_${randomBytes(12).toString('hex')}`;
  const adminKey = generateKey({ environment: 'live' }).key;
  const databaseUrl = `${SERVER_DB_BASE}/${dbName}`;
  const databaseUrlWithPassword = withPort(databaseUrl, Number(SERVER_DB.port || 5432), undefined, DB_PASSWORD);
  let ns: FreshNamespace;
  let webhook: HttpServer;
  const webhookPosts: { headers: IncomingMessage['headers']; body: string }[] = [];
  const procs: Record<string, ServiceProcess> = {};
  const portsOf: Record<string, number> = {};
  let publicPort: number;
  const createdSecrets: string[] = [];
  const shutdowns: Record<string, { code: number | null; signal: NodeJS.Signals | null; ms: number }> = {};

  const internalUrl = (name: string) => `http://127.0.0.1:${portsOf[name]}`;

  beforeAll(async () => {
    buildOnce();
    ns = freshNamespace();
    webhook = createHttpServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        webhookPosts.push({ headers: request.headers, body });
        // Fail the first delivery so the retry path (and its log line) runs too.
        response.writeHead(webhookPosts.length === 1 ? 500 : 204).end();
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', () => resolve()));
    const webhookPort = (webhook.address() as { port: number }).port;
    for (const name of ['keys', 'auth', 'metering', 'demo-api', 'gateway']) portsOf[name] = await freePort();
    publicPort = await freePort();
    const natsUrl = (user: string) => `nats://${user}:${NATS_PASSWORD}@${SERVER_NATS.host}`;
    const common = { NATS_PREFIX: ns.ns.prefix, HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'debug', DATABASE_URL: databaseUrlWithPassword };
    procs.keys = spawnService('keys', { ...common, NATS_URL: natsUrl('keys'), HTTP_PORT: String(portsOf.keys), BOOTSTRAP_ADMIN_KEY: adminKey });
    await waitFor('keys ready', async () => (await get(`${internalUrl('keys')}/readyz`)).status === 200, 30_000, 100);
    procs.auth = spawnService('auth', { ...common, NATS_URL: natsUrl('auth'), HTTP_PORT: String(portsOf.auth) });
    procs.metering = spawnService('metering', {
      ...common,
      NATS_URL: natsUrl('metering'),
      HTTP_PORT: String(portsOf.metering),
      ALERT_WEBHOOK_URL: `http://127.0.0.1:${webhookPort}/hooks/keyplane`,
      ALERT_WEBHOOK_SECRET: WEBHOOK_SECRET,
      ALERT_WEBHOOK_BACKOFF_MS: '200',
      ALERT_DISPATCH_INTERVAL_MS: '100',
      ALERT_AUTH_FAILURE_THRESHOLD: '3',
    });
    procs['demo-api'] = spawnService('demo-api', { PORT: String(portsOf['demo-api']), HOST: '127.0.0.1', LOG_LEVEL: 'debug' });
    procs.gateway = spawnService('gateway', {
      NATS_URL: natsUrl('gateway'),
      NATS_PREFIX: ns.ns.prefix,
      LOG_LEVEL: 'debug',
      PORT: String(publicPort),
      HOST: '127.0.0.1',
      METRICS_PORT: String(portsOf.gateway),
      UPSTREAM_URL: `http://127.0.0.1:${portsOf['demo-api']}`,
    });
    for (const name of ['auth', 'metering', 'demo-api', 'gateway']) {
      await waitFor(`${name} ready`, async () => (await get(`${internalUrl(name)}/readyz`)).status === 200, 30_000, 100).catch((error: Error) => {
        throw new Error(`${error.message}\n${procs[name].stdout().slice(-2000)}\n${procs[name].stderr().slice(-2000)}`);
      });
    }
    // Normal operation: manage keys, use them, fail some (an auth_failure_burst alert goes to the webhook).
    const gw = `http://127.0.0.1:${publicPort}`;
    const created = await fetch(`${gw}/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'ops', permissions: ['FLOWS:READ'] }),
    });
    const { key, id } = (await created.json()) as { key: string; id: string };
    createdSecrets.push(key);
    await fetch(`${gw}/v1/flows`, { headers: { authorization: `Bearer ${key}` } });
    await fetch(`${gw}/v1/flows`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' });
    const rotated = await fetch(`${gw}/v1/api-keys/${id}/rotate`, { method: 'POST', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, body: '{}' });
    const rotatedBody = (await rotated.json()) as { key?: string };
    if (rotatedBody.key) createdSecrets.push(rotatedBody.key);
    for (let i = 0; i < 5; i++) {
      const unknown = generateKey({ environment: 'live' }).key;
      createdSecrets.push(unknown);
      await fetch(`${gw}/v1/flows`, { headers: { authorization: `Bearer ${unknown}` } });
    }
    await waitFor('the alert webhook retried and delivered', () => webhookPosts.length >= 2, 15_000, 100).catch(() => undefined);
    // SIGTERM every service, the gateway first, as a rollout would; time each exit.
    for (const name of ['gateway', 'demo-api', 'auth', 'metering', 'keys']) {
      const started = Date.now();
      procs[name].child.kill('SIGTERM');
      const killer = setTimeout(() => procs[name].child.kill('SIGKILL'), 30_000);
      const exit = await procs[name].exited;
      clearTimeout(killer);
      shutdowns[name] = { ...exit, ms: Date.now() - started };
    }
  }, 180_000);

  afterAll(async () => {
    for (const proc of Object.values(procs)) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
    await new Promise<void>((resolve) => (webhook ? webhook.close(() => resolve()) : resolve()));
    await ns?.cleanup().catch(() => undefined);
    await dropDatabase(databaseUrl).catch(() => undefined);
  }, 30_000);

  const names = ['keys', 'auth', 'metering', 'demo-api', 'gateway'];

  it('creates the database named in DATABASE_URL when it does not exist (DESIGN §9)', async () => {
    // Every service reached ready against a database nobody created beforehand.
    expect(Object.keys(shutdowns).sort()).toEqual([...names].sort());
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: `${SERVER_DB_BASE}/postgres` });
    await client.connect();
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
      expect(found.rowCount).toBe(1);
    } finally {
      await client.end();
    }
  });

  it.each(names)('%s: SIGTERM exits 0 well within the 30 s terminationGracePeriodSeconds and logs it', (name) => {
    const exit = shutdowns[name];
    expect({ name, code: exit.code, signal: exit.signal }).toEqual({ name, code: 0, signal: null });
    expect(exit.ms).toBeLessThan(25_000);
    const { parsed } = jsonLines(procs[name].stdout());
    expect(parsed.some((line) => line.msg === 'shutting down' && line.signal === 'SIGTERM')).toBe(true);
  });

  it.each(names)('%s: every line on stdout is pino JSON and stderr is empty', (name) => {
    const { parsed, notJson } = jsonLines(procs[name].stdout());
    expect(notJson.slice(0, 3)).toEqual([]);
    expect(parsed.length).toBeGreaterThan(0);
    for (const line of parsed) {
      expect(typeof line.level).toBe('number');
      expect(typeof line.time).toBe('number');
      expect(typeof line.msg).toBe('string');
    }
    expect(parsed.every((line) => line.name === name)).toBe(true);
    expect(procs[name].stderr()).toBe('');
  });

  it.each(names)('%s: no API key, webhook secret, Postgres or NATS password in any log line (LOG_LEVEL=debug)', (name) => {
    const text = procs[name].stdout() + procs[name].stderr();
    const leaks = [
      ['bootstrap admin key', adminKey],
      ...createdSecrets.map((secret, i) => [`api key #${i}`, secret]),
      ['webhook secret', WEBHOOK_SECRET],
      ['postgres password', DB_PASSWORD],
      ['nats password', NATS_PASSWORD],
    ].filter(([, secret]) => text.includes(secret)).map(([what]) => what);
    expect({ name, leaks }).toEqual({ name, leaks: [] });
  });

  it('metering signed its webhook POSTs with ALERT_WEBHOOK_SECRET (the alert path ran)', () => {
    expect(webhookPosts.length).toBeGreaterThan(0);
    expect(webhookPosts[0].headers['x-keyplane-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
  });

  it.each(names)('%s: LOG_LEVEL=warn keeps info lines off stdout', async (name) => {
    const port = await freePort();
    const env: Record<string, string> =
      name === 'demo-api'
        ? { PORT: String(port), HOST: '127.0.0.1' }
        : name === 'gateway'
          ? { NATS_URL: TEST_NATS_URL, NATS_PREFIX: ns.ns.prefix, PORT: String(await freePort()), HOST: '127.0.0.1', METRICS_PORT: String(port) }
          : { NATS_URL: TEST_NATS_URL, NATS_PREFIX: ns.ns.prefix, DATABASE_URL: databaseUrl, HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1' };
    const proc = spawnService(name, { ...env, LOG_LEVEL: 'warn' });
    try {
      await waitFor(`${name} alive`, async () => (await get(`http://127.0.0.1:${port}/healthz`)).status === 200, 30_000, 100);
      proc.child.kill('SIGTERM');
      await proc.exited;
      const { parsed, notJson } = jsonLines(proc.stdout());
      expect(notJson).toEqual([]);
      expect(parsed.filter((line) => (line.level as number) < 40).map((line) => line.msg)).toEqual([]);
    } finally {
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    }
  }, 45_000);
});

// ---------------------------------------------------------------------------------------------
// infra/: what the existing infra tests do not check
// ---------------------------------------------------------------------------------------------

type Manifest = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function readYaml(path: string): Manifest[] {
  return parseAllDocuments(readFileSync(join(repoRoot, path), 'utf8'), { merge: true }).map((doc) => doc.toJS() as Manifest);
}

function baseDeployment(name: string): Manifest {
  return readYaml(`infra/k8s/base/${name}/deployment.yaml`)[0];
}

/** Every upper-case name quoted in a service's sources (its config, the shared env reader, the logger). */
function envNamesRead(app: string): Set<string> {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts') && !path.endsWith('.test.ts')) files.push(path);
    }
  };
  walk(join(repoRoot, 'apps', app, 'src'));
  files.push(join(repoRoot, 'libs/runtime/src/env.ts'), join(repoRoot, 'libs/observability/src/logger.ts'));
  const names = new Set<string>();
  for (const file of files) for (const match of readFileSync(file, 'utf8').matchAll(/['"`]([A-Z][A-Z0-9_]{2,})['"`]/g)) names.add(match[1]);
  for (const match of readFileSync(join(repoRoot, 'libs/observability/src/logger.ts'), 'utf8').matchAll(/process\.env\.([A-Z_]+)/g)) names.add(match[1]);
  return names;
}

/** The port a service listens on for its probes and /metrics, from its env in the manifest or its documented default. */
const internalPortEnv: Record<string, [string, number]> = {
  keys: ['HTTP_PORT', 9081],
  auth: ['HTTP_PORT', 9082],
  metering: ['HTTP_PORT', 9083],
  gateway: ['METRICS_PORT', 9080],
  'demo-api': ['PORT', 8090],
};

describe('infra agrees with the code', () => {
  const apps = ['keys', 'auth', 'metering', 'gateway', 'demo-api'];

  it.each(apps)('%s: every env var the Deployment and docker-compose set is one the service reads', (name) => {
    const read = envNamesRead(name);
    const k8s = (baseDeployment(name).spec.template.spec.containers[0].env ?? []).map((e: Manifest) => e.name as string);
    const [compose] = readYaml('docker-compose.yml');
    const composeEnv = Object.keys(compose.services[name].environment ?? {});
    const unknown = [...new Set([...k8s, ...composeEnv])].filter((env) => !read.has(env));
    expect({ name, unknown }).toEqual({ name, unknown: [] });
  });

  it.each(apps)('%s: the Prometheus scrape annotation and a named containerPort are the port that serves /metrics', (name) => {
    const deployment = baseDeployment(name);
    const container = deployment.spec.template.spec.containers[0];
    const [variable, fallback] = internalPortEnv[name];
    const configured = (container.env ?? []).find((e: Manifest) => e.name === variable)?.value;
    const port = configured === undefined ? fallback : Number(configured);
    expect(Number(deployment.spec.template.metadata.annotations['prometheus.io/port'])).toBe(port);
    expect(container.ports.map((p: Manifest) => p.containerPort)).toContain(port);
  });

  it.each(apps)('%s: every probe targets a declared container port that the service listens on', (name) => {
    const container = baseDeployment(name).spec.template.spec.containers[0];
    const declared = new Map<string, number>(container.ports.map((p: Manifest) => [p.name, p.containerPort]));
    const env = new Map<string, string>((container.env ?? []).map((e: Manifest) => [e.name, e.value]));
    const listening = name === 'gateway' ? [Number(env.get('PORT') ?? 8080), Number(env.get('METRICS_PORT') ?? 9080)] : [Number(env.get(internalPortEnv[name][0]) ?? internalPortEnv[name][1])];
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      const target = container[probe].httpGet.port;
      const port = typeof target === 'number' ? target : declared.get(target);
      expect({ probe, port: listening.includes(port as number) }).toEqual({ probe, port: true });
    }
  });

  it('gateway: the kubelet probes the internal METRICS_PORT, not the public listener (gateway README: METRICS_PORT is the "internal port: /metrics, /healthz, /readyz")', () => {
    const container = baseDeployment('gateway').spec.template.spec.containers[0];
    const declared = new Map<string, number>(container.ports.map((p: Manifest) => [p.name, p.containerPort]));
    const metricsPort = Number(container.env.find((e: Manifest) => e.name === 'METRICS_PORT').value);
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      const target = container[probe].httpGet.port;
      expect({ probe, port: typeof target === 'number' ? target : declared.get(target) }).toEqual({ probe, port: metricsPort });
    }
  });

  it('every Service port maps to a named port of its Deployment', () => {
    for (const name of apps) {
      const [service] = readYaml(`infra/k8s/base/${name}/service.yaml`);
      const container = baseDeployment(name).spec.template.spec.containers[0];
      const names = container.ports.map((p: Manifest) => p.name);
      for (const port of service.spec.ports) expect({ name, target: names.includes(port.targetPort) }).toEqual({ name, target: true });
    }
  });

  it('terminationGracePeriodSeconds leaves auth time for its whole documented SIGTERM sequence', () => {
    // auth README "Shutdown": 100 ms grace, up to 2 s for handlers, then USAGE_FLUSH_TIMEOUT_MS (10 s by default).
    const auth = baseDeployment('auth');
    const flushMs = Number((auth.spec.template.spec.containers[0].env ?? []).find((e: Manifest) => e.name === 'USAGE_FLUSH_TIMEOUT_MS')?.value ?? 10_000);
    expect(auth.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(100 + 2000 + flushMs);
  });

  it('docker-compose: metering can be given ALERT_WEBHOOK_SECRET alongside ALERT_WEBHOOK_URL (else its webhook POSTs go unsigned)', () => {
    const [compose] = readYaml('docker-compose.yml');
    const env = compose.services.metering.environment;
    expect(Object.keys(env)).toContain('ALERT_WEBHOOK_URL');
    expect(Object.keys(env)).toContain('ALERT_WEBHOOK_SECRET');
  });

  it('the compiled entry points the manifests name are what `npm run build` writes', () => {
    buildOnce();
    for (const name of apps) {
      const args: string[] = baseDeployment(name).spec.template.spec.containers[0].args;
      expect(existsSync(join(repoRoot, args[0]))).toBe(true);
    }
  });
});
